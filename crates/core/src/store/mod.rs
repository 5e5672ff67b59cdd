//! The one sled database: typed trees for every entity, a schema version with migrations, and a holder
//! file so that a second process learns who has the database.
//!
//! sled admits one process. The first LogReasoner process to open a database owns it and serves
//! the others over a Unix socket in the database folder (`owner.sock`, the owner's user only):
//! later processes become its clients through the same typed API ([`Store`] hides which it is).
//! When the owner exits or dies, a client's next call takes over: it opens the database itself
//! (becoming the owner) or connects to whichever process did.
//!
//! Invariants:
//! - Keys of record trees are big-endian ids, so iteration is creation order.
//! - Writes that touch several trees run in one sled transaction.
//! - Label and review writes are flushed to disk before the call returns (durable on key press).

mod client;
mod records;
mod serve;

pub use records::*;

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// Schema this build writes. Bump it together with a new entry in `MIGRATIONS`.
pub const SCHEMA_VERSION: u32 = 1;

const META_TREE: &str = "meta";
const SCHEMA_KEY: &[u8] = b"schema_version";
/// The last id handed out (big-endian u64), in the meta tree.
const LAST_ID_KEY: &[u8] = b"last_id";
const HOLDER_FILE: &str = "logreasoner.holder";
/// Task instances by content hash, so an import merges duplicates without a scan.
const INSTANCE_HASH_TREE: &str = "instance_hashes";

fn id_from(raw: &[u8]) -> Option<Id> {
    Some(Id::from_be_bytes(raw.try_into().ok()?))
}

/// Migrations from version `i + 1` to `i + 2`, applied in order to an older database.
/// Each runs inside the open database before any other access.
type Migration = fn(&sled::Db) -> Result<(), StoreError>;
const MIGRATIONS: &[Migration] = &[];

/// Why a database operation failed, worded for the person at the terminal.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds sled's lock on the database; `holder` is what its holder file says.
    #[error(
        "the database {path} is held by another logreasoner process ({holder}); \
         close that one, or point this one at another database with --db"
    )]
    Locked {
        /// The database folder.
        path: PathBuf,
        /// The holder file's text: pid, host and since when.
        holder: String,
    },
    /// The database was written by a newer build with a schema this one does not know.
    #[error(
        "the database {path} has schema version {found}, but this logreasoner understands up to \
         version {supported}; upgrade logreasoner, or use another database with --db"
    )]
    NewerSchema {
        /// The database folder.
        path: PathBuf,
        /// The schema version recorded in the database.
        found: u32,
        /// The newest schema version this build understands ([`SCHEMA_VERSION`]).
        supported: u32,
    },
    /// A write failed because the disk holding the database at `path` is full.
    #[error("the disk holding the database {path} is full; free some space and retry (nothing already saved is lost)")]
    DiskFull {
        /// The database folder.
        path: PathBuf,
    },
    /// sled could not open the database at `path` for another reason.
    #[error("cannot open the database {path}: {source}")]
    Open {
        /// The database folder.
        path: PathBuf,
        /// sled's error.
        source: sled::Error,
    },
    /// Any other sled error.
    #[error("database error: {0}")]
    Sled(#[from] sled::Error),
    /// A stored record is not valid JSON for its type.
    #[error("record {id} in `{tree}` cannot be decoded ({source}); the database may be from an incompatible build")]
    Corrupt {
        /// The sled tree the record is in.
        tree: &'static str,
        /// The record's key: its id, or `annotator/screen` for a session.
        id: String,
        /// What serde_json said about the record.
        source: serde_json::Error,
    },
    /// No record with this id in this tree.
    #[error("no record {id} in `{tree}`")]
    NotFound {
        /// The sled tree searched.
        tree: &'static str,
        /// The id not found.
        id: Id,
    },
    /// An instance-hash index entry is not an 8-byte id.
    #[error("an index entry is malformed: {0:?}; the database may be damaged")]
    BadIndexEntry(Vec<u8>),
    /// A `Chosen` preference names one solution twice, or two with the same text.
    #[error("a preference needs two different solutions, but #{chosen} and #{rejected} say the same thing; label the pair a tie or skip it")]
    SameSides {
        /// The solution marked as chosen.
        chosen: Id,
        /// The solution marked as rejected.
        rejected: Id,
    },
    /// The process that owned the database stopped, and no process could take over.
    #[error("the process that owned the database {path} stopped, and this one could not take it over; retry")]
    OwnerGone {
        /// The database folder.
        path: PathBuf,
    },
    /// The owning process reported an error this one has no variant for.
    #[error("{0}")]
    Remote(String),
    /// The stored schema version is not a 4-byte big-endian number.
    #[error("the schema version entry is malformed: {0:?}")]
    BadSchemaEntry(Vec<u8>),
}

/// A store result; the error defaults to [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The database opened by this process (the owner's side of every call).
#[derive(Clone)]
pub(crate) struct Local {
    db: sled::Db,
    path: PathBuf,
}

impl Local {
    /// Opens sled at `path`, migrating an older schema and refusing a newer one.
    fn open(path: &Path) -> Result<Local> {
        let db = open_db(path)?;
        let local = Local {
            db,
            path: path.to_path_buf(),
        };
        local.check_schema()?;
        local.write_holder();
        Ok(local)
    }

    /// The schema version recorded in the database.
    pub fn schema_version(&self) -> Result<u32> {
        let meta = self.db.open_tree(META_TREE)?;
        match meta.get(SCHEMA_KEY)? {
            None => Ok(0),
            Some(v) => decode_version(&v),
        }
    }

    fn check_schema(&self) -> Result<()> {
        let meta = self.db.open_tree(META_TREE)?;
        let found = match meta.get(SCHEMA_KEY)? {
            Some(v) => decode_version(&v)?,
            // A database without the key is either new or from before versioning: both start at 1.
            None => {
                meta.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
                self.db.flush()?;
                return Ok(());
            }
        };
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        for version in found..SCHEMA_VERSION {
            let migrate = MIGRATIONS[(version - 1) as usize];
            migrate(&self.db)?;
            meta.insert(SCHEMA_KEY, &(version + 1).to_be_bytes())?;
            self.db.flush()?;
            tracing::info!(from = version, to = version + 1, "migrated database schema");
        }
        Ok(())
    }

    /// Records who holds the database, so that a second process can name it.
    fn write_holder(&self) {
        let text = format!(
            "pid {} on {}, since {}",
            std::process::id(),
            hostname(),
            crate::time::format_utc(crate::time::now_millis())
        );
        if let Err(e) = std::fs::write(self.path.join(HOLDER_FILE), text) {
            tracing::warn!(error = %e, "could not write the holder file");
        }
    }

    /// A fresh id, unique and increasing across restarts: one more than the last. sled's own
    /// `generate_id` leaps by a million at every reopen (diagnoses read #2000001 after two
    /// restarts), so the last id is kept in the meta tree; a database made before that starts
    /// past every id sled's generator handed out.
    pub fn next_id(&self) -> Result<Id> {
        let meta = self.db.open_tree(META_TREE)?;
        let last = |bytes: Option<&[u8]>| {
            bytes
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
        };
        let seen = meta.get(LAST_ID_KEY)?;
        if last(seen.as_deref()).is_none() {
            // sled's ids start at 0 and records at 1, so that 0 never names one. Set only where
            // no other thread set it meanwhile (a second floor could fall below ids handed out).
            let floor = self.db.generate_id()?;
            let _ = meta.compare_and_swap(LAST_ID_KEY, seen, Some(&floor.to_be_bytes()[..]))?;
        }
        // Nothing removes the key once set, so the closure always finds a number.
        let next = meta.update_and_fetch(LAST_ID_KEY, |old| {
            Some((last(old).unwrap_or(0) + 1).to_be_bytes().to_vec())
        })?;
        Ok(last(next.as_deref()).unwrap_or(0))
    }

    fn tree(&self, name: &str) -> Result<sled::Tree> {
        Ok(self.db.open_tree(name)?)
    }

    // Record access by tree name, so typed calls (`R::TREE`, the record type) and a client's
    // calls (a tree named over the socket, records as JSON values) share one implementation.

    /// Writes `value` under `id` in `tree` (insert or replace).
    fn put_in<T: serde::Serialize>(&self, tree: &str, id: Id, value: &T) -> Result<()> {
        self.tree(tree)?
            .insert(id.to_be_bytes(), encode(value))
            .map_err(|e| self.write_error(e))?;
        Ok(())
    }

    /// The record under `id` in `tree`, decoded as `T`; `None` when there is none.
    fn get_in<T: serde::de::DeserializeOwned>(
        &self,
        tree: &'static str,
        id: Id,
    ) -> Result<Option<T>> {
        self.tree(tree)?
            .get(id.to_be_bytes())?
            .map(|v| decode(&v, tree, &id.to_string()))
            .transpose()
    }

    /// Deletes the record under `id` in `tree`; `true` if it was there.
    fn remove_in(&self, tree: &str, id: Id) -> Result<bool> {
        Ok(self.tree(tree)?.remove(id.to_be_bytes())?.is_some())
    }

    /// Every record of `tree` in id order, decoded as `T`. One that cannot be decoded is an
    /// error, not skipped.
    fn all_in<T: serde::de::DeserializeOwned>(&self, tree: &'static str) -> Result<Vec<T>> {
        self.tree(tree)?
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                decode(&v, tree, &key_label(&k))
            })
            .collect()
    }

    /// How many records `tree` holds.
    fn count_in(&self, tree: &str) -> Result<usize> {
        Ok(self.tree(tree)?.len())
    }

    /// The record of type `R` with this id; `None` when there is none.
    fn get<R: Record>(&self, id: Id) -> Result<Option<R>> {
        self.get_in(R::TREE, id)
    }

    /// Stores a preference label and, in the same transaction, where its annotator stopped.
    /// Durable on return.
    pub fn record_label(
        &self,
        label: &mut PreferenceLabel,
        session: Option<&SessionState>,
    ) -> Result<Id> {
        if label.preference == Preference::Chosen {
            let text =
                |id| -> Result<Option<String>> { Ok(self.get::<Solution>(id)?.map(|s| s.text)) };
            let same = label.chosen == label.rejected
                || matches!((text(label.chosen)?, text(label.rejected)?), (Some(c), Some(r)) if c.trim() == r.trim());
            if same {
                return Err(StoreError::SameSides {
                    chosen: label.chosen,
                    rejected: label.rejected,
                });
            }
        }
        label.set_id(self.next_id()?);
        let labels = self.tree(PreferenceLabel::TREE)?;
        let sessions = self.tree(SessionState::TREE)?;
        let value = encode(label);
        let session_kv = session.map(|s| (SessionState::key(&s.annotator, &s.screen), encode(s)));
        (&labels, &sessions)
            .transaction(|(labels, sessions)| {
                labels.insert(&label.id.to_be_bytes(), value.as_slice())?;
                if let Some((k, v)) = &session_kv {
                    sessions.insert(k.as_slice(), v.as_slice())?;
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })
            .map_err(|e| self.tx_error(e))?;
        self.flush()?;
        Ok(label.id)
    }

    /// Inserts a task instance unless one with the same content hash exists (duplicates merge).
    /// Returns the instance's id and whether it is new. The instance and its hash index entry are
    /// one transaction.
    pub fn insert_instance(&self, instance: &mut TaskInstance) -> Result<(Id, bool)> {
        let index = self.tree(INSTANCE_HASH_TREE)?;
        if let Some(raw) = index.get(instance.content_hash.as_bytes())? {
            let id = id_from(&raw).ok_or_else(|| StoreError::BadIndexEntry(raw.to_vec()))?;
            instance.id = id;
            return Ok((id, false));
        }
        instance.set_id(self.next_id()?);
        let instances = self.tree(TaskInstance::TREE)?;
        let value = encode(instance);
        let id = instance.id;
        let hash = instance.content_hash.clone();
        (&instances, &index)
            .transaction(|(instances, index)| {
                instances.insert(&id.to_be_bytes(), value.as_slice())?;
                index.insert(hash.as_bytes(), &id.to_be_bytes())?;
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })
            .map_err(|e| self.tx_error(e))?;
        Ok((id, true))
    }

    /// The instance with this content hash, if any.
    pub fn instance_by_hash(&self, hash: &str) -> Result<Option<Id>> {
        match self.tree(INSTANCE_HASH_TREE)?.get(hash.as_bytes())? {
            Some(raw) => Ok(Some(
                id_from(&raw).ok_or_else(|| StoreError::BadIndexEntry(raw.to_vec()))?,
            )),
            None => Ok(None),
        }
    }

    /// Removes a label (undo), durable on return.
    pub fn undo_label(&self, id: Id) -> Result<bool> {
        let removed = self.remove_in(PreferenceLabel::TREE, id)?;
        self.flush()?;
        Ok(removed)
    }

    /// Stores a review decision and sets its target's status (and text, for an edit) in one
    /// transaction. Durable on return.
    pub fn record_review(&self, decision: &mut ReviewDecision) -> Result<Id> {
        decision.set_id(self.next_id()?);
        let reviews = self.tree(ReviewDecision::TREE)?;
        let thoughts = self.tree(Thought::TREE)?;
        let solutions = self.tree(Solution::TREE)?;
        let diagnoses = self.tree(Diagnosis::TREE)?;
        let value = encode(decision);
        let status = decision.decision;
        let edited = decision.edit.as_ref().map(|e| e.after.clone());
        (&reviews, &thoughts, &solutions, &diagnoses)
            .transaction(|(reviews, thoughts, solutions, diagnoses)| {
                reviews.insert(&decision.id.to_be_bytes(), value.as_slice())?;
                let (tree, name, id) = match decision.target {
                    ReviewTarget::Thought(id) => (thoughts, Thought::TREE, id),
                    ReviewTarget::Solution(id) => (solutions, Solution::TREE, id),
                    ReviewTarget::Diagnosis(id) => (diagnoses, Diagnosis::TREE, id),
                };
                let key = id.to_be_bytes();
                let Some(raw) = tree.get(key)? else {
                    return Err(ConflictableTransactionError::Abort(StoreError::NotFound {
                        tree: name,
                        id,
                    }));
                };
                let mut value: serde_json::Value =
                    serde_json::from_slice(&raw).map_err(|source| {
                        ConflictableTransactionError::Abort(StoreError::Corrupt {
                            tree: name,
                            id: id.to_string(),
                            source,
                        })
                    })?;
                value["status"] = serde_json::json!(status);
                if let Some(after) = &edited {
                    apply_edit(&mut value, decision.target, after);
                }
                tree.insert(&key, serde_json::to_vec(&value).unwrap_or_default())?;
                Ok(())
            })
            .map_err(|e| self.tx_error(e))?;
        self.flush()?;
        Ok(decision.id)
    }

    /// Where `annotator` stopped on `screen`, if a state was saved.
    pub fn session(&self, annotator: &str, screen: &str) -> Result<Option<SessionState>> {
        let key = SessionState::key(annotator, screen);
        self.tree(SessionState::TREE)?
            .get(&key)?
            .map(|v| decode(&v, SessionState::TREE, &key_label(&key)))
            .transpose()
    }

    /// Saves where an annotator stopped on a screen, replacing the earlier state.
    pub fn save_session(&self, state: &SessionState) -> Result<()> {
        let key = SessionState::key(&state.annotator, &state.screen);
        self.tree(SessionState::TREE)?
            .insert(key, encode(state))
            .map_err(|e| self.write_error(e))?;
        Ok(())
    }

    /// Forces everything written so far to disk.
    pub fn flush(&self) -> Result<()> {
        self.db.flush().map_err(|e| self.write_error(e))?;
        Ok(())
    }

    /// Record counts per tree, for `logreasoner db info` and the status bar.
    pub fn counts(&self) -> Result<Vec<(&'static str, usize)>> {
        TREES
            .iter()
            .map(|&tree| Ok((tree, self.count_in(tree)?)))
            .collect()
    }

    fn write_error(&self, e: sled::Error) -> StoreError {
        match &e {
            sled::Error::Io(io) if io.kind() == ErrorKind::StorageFull => StoreError::DiskFull {
                path: self.path.clone(),
            },
            _ => StoreError::Sled(e),
        }
    }

    fn tx_error(&self, e: TransactionError<StoreError>) -> StoreError {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => self.write_error(e),
        }
    }
}

/// Handle on the database: this process's own, or the owning process's through its socket.
/// Cheap to clone; clones share one connection or one open database.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    backend: RwLock<Backend>,
}

enum Backend {
    /// This process opened the database and serves it to the others (until dropped).
    Owner {
        local: Local,
        /// Kept for its lifetime: dropping it stops serving.
        _server: serve::Server,
    },
    /// Another process owns it; calls go through its socket.
    Client(client::Client),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.shared.path)
            .field("owner", &self.is_owner())
            .finish()
    }
}

/// How long a process that finds the database locked waits for its owner's socket (an owner
/// starting up holds the lock a moment before it listens).
const OWNER_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Opens the database at `path` as its owner (serving it), or connects to its owner.
fn attach(path: &Path) -> Result<Backend> {
    let started = std::time::Instant::now();
    loop {
        match Local::open(path) {
            Ok(local) => {
                let server = serve::Server::start(path, local.clone());
                return Ok(Backend::Owner {
                    local,
                    _server: server,
                });
            }
            Err(locked @ StoreError::Locked { .. }) => {
                match client::Client::connect(&path.join(serve::SOCKET_FILE)) {
                    Ok(c) => return Ok(Backend::Client(c)),
                    // The owner may be starting (locked, not yet listening) or just gone.
                    Err(_) if started.elapsed() < OWNER_WAIT => {
                        std::thread::sleep(std::time::Duration::from_millis(25));
                    }
                    Err(_) => return Err(locked),
                }
            }
            Err(e) => return Err(e),
        }
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path`, migrating an older schema and refusing
    /// a newer one; where another process owns it, becomes that process's client.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let backend = attach(&path)?;
        Ok(Store {
            shared: Arc::new(Shared {
                path,
                backend: RwLock::new(backend),
            }),
        })
    }

    /// The database folder.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Whether this process owns the database (else another serves it to this one).
    pub fn is_owner(&self) -> bool {
        matches!(*self.read(), Backend::Owner { .. })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Backend> {
        self.shared
            .backend
            .read()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Runs a call on this process's database or through the owner; when the owner is gone,
    /// takes over (opening the database or connecting to the new owner) and runs it again.
    fn call<T>(
        &self,
        local: impl Fn(&Local) -> Result<T>,
        remote: impl Fn(&client::Client) -> Result<T>,
    ) -> Result<T> {
        for _ in 0..3 {
            let gone = {
                let backend = self.read();
                match &*backend {
                    Backend::Owner { local: l, .. } => return local(l),
                    Backend::Client(c) => match remote(c) {
                        Err(StoreError::OwnerGone { .. }) => c.generation(),
                        other => return other,
                    },
                }
            };
            self.take_over(gone)?;
        }
        Err(StoreError::OwnerGone {
            path: self.shared.path.clone(),
        })
    }

    /// Replaces a connection whose owner stopped (`gone` names it, so that one caller replaces it
    /// and the others use the replacement).
    fn take_over(&self, gone: u64) -> Result<()> {
        let mut backend = self
            .shared
            .backend
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if let Backend::Client(c) = &*backend {
            if c.generation() == gone {
                tracing::warn!(path = %self.shared.path.display(), "the database's owner stopped; taking over");
                *backend = attach(&self.shared.path)?;
            }
        }
        Ok(())
    }

    /// The schema version recorded in the database.
    pub fn schema_version(&self) -> Result<u32> {
        self.call(Local::schema_version, client::Client::schema_version)
    }

    /// The owner's sled handle, for tests that damage records on purpose.
    #[cfg(test)]
    fn local_db(&self) -> sled::Db {
        match &*self.read() {
            Backend::Owner { local, .. } => local.db.clone(),
            Backend::Client(_) => panic!("not the owner"),
        }
    }

    /// A fresh id, unique and increasing across restarts.
    pub fn next_id(&self) -> Result<Id> {
        self.call(Local::next_id, client::Client::next_id)
    }

    /// Inserts a record, assigning it a new id, and returns the id.
    pub fn insert<R: Record>(&self, record: &mut R) -> Result<Id> {
        record.set_id(self.next_id()?);
        self.put(record)?;
        Ok(record.id())
    }

    /// Writes a record under its existing id (insert or replace).
    pub fn put<R: Record>(&self, record: &R) -> Result<()> {
        self.call(
            |l| l.put_in(R::TREE, record.id(), record),
            |c| c.put(R::TREE, record.id(), record),
        )
    }

    /// The record of type `R` with this id; `None` when there is none.
    pub fn get<R: Record>(&self, id: Id) -> Result<Option<R>> {
        self.call(|l| l.get_in(R::TREE, id), |c| c.get(R::TREE, id))
    }

    /// Like [`Store::get`], but a missing record is an error.
    pub fn load<R: Record>(&self, id: Id) -> Result<R> {
        self.get(id)?
            .ok_or(StoreError::NotFound { tree: R::TREE, id })
    }

    /// Deletes the record of type `R` with this id; `true` if it was there.
    pub fn remove<R: Record>(&self, id: Id) -> Result<bool> {
        self.call(|l| l.remove_in(R::TREE, id), |c| c.remove(R::TREE, id))
    }

    /// All records of one type in id order. A record that cannot be decoded is an error, not skipped.
    pub fn all<R: Record>(&self) -> Result<Vec<R>> {
        self.call(|l| l.all_in(R::TREE), |c| c.all(R::TREE))
    }

    /// How many records of type `R` are stored.
    pub fn count<R: Record>(&self) -> Result<usize> {
        self.call(|l| l.count_in(R::TREE), |c| c.count(R::TREE))
    }

    /// Stores a preference label and, in the same transaction, where its annotator stopped.
    /// Durable on return (the owner flushes before it answers).
    pub fn record_label(
        &self,
        label: &mut PreferenceLabel,
        session: Option<&SessionState>,
    ) -> Result<Id> {
        let id = self.call(
            |l| l.record_label(&mut label.clone(), session),
            |c| c.record_label(label, session),
        )?;
        label.id = id;
        Ok(id)
    }

    /// Inserts a task instance unless one with the same content hash exists (duplicates merge).
    /// Returns the instance's id and whether it is new.
    pub fn insert_instance(&self, instance: &mut TaskInstance) -> Result<(Id, bool)> {
        let (id, new) = self.call(
            |l| l.insert_instance(&mut instance.clone()),
            |c| c.insert_instance(instance),
        )?;
        instance.id = id;
        Ok((id, new))
    }

    /// The instance with this content hash, if any.
    pub fn instance_by_hash(&self, hash: &str) -> Result<Option<Id>> {
        self.call(|l| l.instance_by_hash(hash), |c| c.instance_by_hash(hash))
    }

    /// Removes a label (undo), durable on return.
    pub fn undo_label(&self, id: Id) -> Result<bool> {
        self.call(|l| l.undo_label(id), |c| c.undo_label(id))
    }

    /// Stores a review decision and sets its target's status (and text, for an edit) in one
    /// transaction. Durable on return.
    pub fn record_review(&self, decision: &mut ReviewDecision) -> Result<Id> {
        let id = self.call(
            |l| l.record_review(&mut decision.clone()),
            |c| c.record_review(decision),
        )?;
        decision.id = id;
        Ok(id)
    }

    /// Where `annotator` stopped on `screen`, if a state was saved.
    pub fn session(&self, annotator: &str, screen: &str) -> Result<Option<SessionState>> {
        self.call(
            |l| l.session(annotator, screen),
            |c| c.session(annotator, screen),
        )
    }

    /// Saves where an annotator stopped on a screen, replacing the earlier state.
    pub fn save_session(&self, state: &SessionState) -> Result<()> {
        self.call(|l| l.save_session(state), |c| c.save_session(state))
    }

    /// Forces everything written so far to disk.
    pub fn flush(&self) -> Result<()> {
        self.call(Local::flush, client::Client::flush)
    }

    /// Record counts per tree, for `logreasoner db info` and the status bar.
    pub fn counts(&self) -> Result<Vec<(&'static str, usize)>> {
        self.call(Local::counts, client::Client::counts)
    }
}

/// Every record tree, so a name that came over the socket maps back to its static name.
pub(crate) const TREES: [&str; 9] = [
    TaskInstance::TREE,
    Thought::TREE,
    Solution::TREE,
    PreferenceLabel::TREE,
    ReviewDecision::TREE,
    Diagnosis::TREE,
    TrainingRun::TREE,
    EvalRun::TREE,
    SessionState::TREE,
];

/// The text of an edit goes to the field a reviewer sees: a solution's text, a diagnosis's reasoning.
/// Thoughts are edited as whole records by their module, so only the status changes here.
fn apply_edit(value: &mut serde_json::Value, target: ReviewTarget, after: &str) {
    match target {
        ReviewTarget::Solution(_) => value["text"] = serde_json::json!(after),
        ReviewTarget::Diagnosis(_) => value["reasoning"] = serde_json::json!(after),
        ReviewTarget::Thought(_) => {}
    }
}

/// How long an open waits for a lock that this process itself still holds.
const OWN_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Opens sled at `path`. A store this process has just dropped can keep sled's file lock for a
/// moment (sled's background writes hold the file until they finish), so a lock held by this
/// very process is waited for briefly; another process's lock is reported at once.
/// Removes the snapshot files sled was still writing when it stopped (`snap.<lsn>.generating`; a
/// finished one is renamed to `snap.<lsn>`). sled reads the newest-named snapshot, and a half
/// written one (a full disk leaves it empty) sorts last: every later open would fail as corrupt
/// although the data is whole. Called only after sled reported corruption, which it does after
/// taking its lock, so no other process is writing a snapshot. Returns how many were removed.
fn remove_unfinished_snapshots(path: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => {
                    tracing::warn!(file = %entry.path().display(), "removed an unfinished snapshot");
                    removed += 1;
                }
                Err(e) => tracing::warn!(error = %e, "cannot remove an unfinished snapshot"),
            }
        }
    }
    removed
}

fn open_db(path: &Path) -> Result<sled::Db> {
    let started = std::time::Instant::now();
    let mut recovered = false;
    loop {
        match sled::Config::new().path(path).open() {
            Ok(db) => return Ok(db),
            Err(sled::Error::Corruption { .. })
                if !recovered && remove_unfinished_snapshots(path) > 0 =>
            {
                recovered = true;
            }
            Err(e) => {
                let err = open_error(path, e);
                // The holder file's own words (see `write_holder`) for this process.
                let ours = format!("pid {} on {},", std::process::id(), hostname());
                match &err {
                    StoreError::Locked { holder, .. }
                        if holder.starts_with(&ours) && started.elapsed() < OWN_LOCK_WAIT =>
                    {
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                    _ => return Err(err),
                }
            }
        }
    }
}

fn open_error(path: &Path, e: sled::Error) -> StoreError {
    if let sled::Error::Io(io) = &e {
        let text = io.to_string();
        if text.contains("could not acquire lock") || io.kind() == ErrorKind::WouldBlock {
            let holder = std::fs::read_to_string(path.join(HOLDER_FILE))
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "holder unknown".to_string());
            return StoreError::Locked {
                path: path.to_path_buf(),
                holder,
            };
        }
        if io.kind() == ErrorKind::StorageFull {
            return StoreError::DiskFull {
                path: path.to_path_buf(),
            };
        }
    }
    StoreError::Open {
        path: path.to_path_buf(),
        source: e,
    }
}

fn decode_version(raw: &[u8]) -> Result<u32> {
    let bytes: [u8; 4] = raw
        .try_into()
        .map_err(|_| StoreError::BadSchemaEntry(raw.to_vec()))?;
    Ok(u32::from_be_bytes(bytes))
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Our records hold only strings, numbers, maps with string keys and enums: encoding cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

fn decode<T: serde::de::DeserializeOwned>(raw: &[u8], tree: &'static str, id: &str) -> Result<T> {
    serde_json::from_slice(raw).map_err(|source| StoreError::Corrupt {
        tree,
        id: id.to_string(),
        source,
    })
}

fn key_label(key: &[u8]) -> String {
    match <[u8; 8]>::try_from(key) {
        Ok(bytes) => u64::from_be_bytes(bytes).to_string(),
        Err(_) => String::from_utf8_lossy(key).replace('\0', "/"),
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "this host".to_string())
}

#[cfg(test)]
mod tests;
