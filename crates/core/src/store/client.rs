//! A process's side of a database another process owns: each [`Store`](super::Store) call as one
//! JSON line to the owner's socket, and its answer as one line back (see `serve` for the owner's
//! side). Records travel as the JSON they are stored as.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use super::{Id, PreferenceLabel, Result, ReviewDecision, SessionState, StoreError, TaskInstance};

/// Connections made by this process, so a caller can tell whether the one it saw fail has
/// already been replaced.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// One connection to the owner.
pub(crate) struct Client {
    conn: Mutex<Conn>,
    socket: PathBuf,
    generation: u64,
}

struct Conn {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    /// Connects to the owner listening on `socket`.
    pub(crate) fn connect(socket: &Path) -> std::io::Result<Client> {
        let writer = UnixStream::connect(socket)?;
        let reader = BufReader::new(writer.try_clone()?);
        Ok(Client {
            conn: Mutex::new(Conn { reader, writer }),
            socket: socket.to_path_buf(),
            generation: GENERATION.fetch_add(1, Ordering::Relaxed) + 1,
        })
    }

    /// Which connection this is (see [`GENERATION`]).
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Sends one request and reads its answer. A broken connection is [`StoreError::OwnerGone`],
    /// which the store answers by taking over.
    fn request(&self, request: Value) -> Result<Value> {
        let gone = || StoreError::OwnerGone {
            path: self
                .socket
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
        };
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut line = request.to_string();
        line.push('\n');
        conn.writer.write_all(line.as_bytes()).map_err(|_| gone())?;
        let mut answer = String::new();
        match conn.reader.read_line(&mut answer) {
            Ok(0) | Err(_) => return Err(gone()),
            Ok(_) => {}
        }
        let mut answer: Value = serde_json::from_str(&answer)
            .map_err(|e| StoreError::Remote(format!("unreadable answer from the owner: {e}")))?;
        match answer.get_mut("err") {
            Some(err) => Err(error_from(err.take())),
            None => Ok(answer.get_mut("ok").map(Value::take).unwrap_or(Value::Null)),
        }
    }

    fn typed<T: DeserializeOwned>(&self, request: Value) -> Result<T> {
        let value = self.request(request)?;
        serde_json::from_value(value)
            .map_err(|e| StoreError::Remote(format!("unexpected answer from the owner: {e}")))
    }

    pub(crate) fn schema_version(&self) -> Result<u32> {
        self.typed(json!({"op": "schema_version"}))
    }

    pub(crate) fn next_id(&self) -> Result<Id> {
        self.typed(json!({"op": "next_id"}))
    }

    pub(crate) fn put<R: Serialize>(&self, tree: &str, id: Id, record: &R) -> Result<()> {
        self.request(json!({"op": "put", "tree": tree, "id": id, "value": record}))
            .map(drop)
    }

    pub(crate) fn get<R: DeserializeOwned>(&self, tree: &str, id: Id) -> Result<Option<R>> {
        self.typed(json!({"op": "get", "tree": tree, "id": id}))
    }

    pub(crate) fn remove(&self, tree: &str, id: Id) -> Result<bool> {
        self.typed(json!({"op": "remove", "tree": tree, "id": id}))
    }

    pub(crate) fn all<R: DeserializeOwned>(&self, tree: &str) -> Result<Vec<R>> {
        self.typed(json!({"op": "all", "tree": tree}))
    }

    pub(crate) fn count(&self, tree: &str) -> Result<usize> {
        self.typed(json!({"op": "count", "tree": tree}))
    }

    pub(crate) fn record_label(
        &self,
        label: &PreferenceLabel,
        session: Option<&SessionState>,
    ) -> Result<Id> {
        self.typed(json!({"op": "record_label", "label": label, "session": session}))
    }

    pub(crate) fn insert_instance(&self, instance: &TaskInstance) -> Result<(Id, bool)> {
        self.typed(json!({"op": "insert_instance", "instance": instance}))
    }

    pub(crate) fn instance_by_hash(&self, hash: &str) -> Result<Option<Id>> {
        self.typed(json!({"op": "instance_by_hash", "hash": hash}))
    }

    pub(crate) fn undo_label(&self, id: Id) -> Result<bool> {
        self.typed(json!({"op": "undo_label", "id": id}))
    }

    pub(crate) fn record_review(&self, decision: &ReviewDecision) -> Result<Id> {
        self.typed(json!({"op": "record_review", "decision": decision}))
    }

    pub(crate) fn session(&self, annotator: &str, screen: &str) -> Result<Option<SessionState>> {
        self.typed(json!({"op": "session", "annotator": annotator, "screen": screen}))
    }

    pub(crate) fn save_session(&self, state: &SessionState) -> Result<()> {
        self.request(json!({"op": "save_session", "state": state}))
            .map(drop)
    }

    pub(crate) fn flush(&self) -> Result<()> {
        self.request(json!({"op": "flush"})).map(drop)
    }

    pub(crate) fn counts(&self) -> Result<Vec<(&'static str, usize)>> {
        let counts: Vec<(String, usize)> = self.typed(json!({"op": "counts"}))?;
        Ok(counts
            .into_iter()
            .filter_map(|(name, n)| Some((tree_name(&name)?, n)))
            .collect())
    }
}

/// The static name of a record tree named over the socket.
pub(crate) fn tree_name(name: &str) -> Option<&'static str> {
    super::TREES.iter().copied().find(|t| *t == name)
}

/// An error as the owner wrote it (see `serve::error_json`), typed again where callers match on
/// it.
fn error_from(err: Value) -> StoreError {
    let text = |k: &str| err.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let id = |k: &str| err.get(k).and_then(Value::as_u64).unwrap_or(0);
    match text("kind").as_str() {
        "same_sides" => StoreError::SameSides {
            chosen: id("chosen"),
            rejected: id("rejected"),
        },
        "not_found" => match tree_name(&text("tree")) {
            Some(tree) => StoreError::NotFound { tree, id: id("id") },
            None => StoreError::Remote(text("message")),
        },
        "disk_full" => StoreError::DiskFull {
            path: PathBuf::from(text("path")),
        },
        _ => StoreError::Remote(text("message")),
    }
}
