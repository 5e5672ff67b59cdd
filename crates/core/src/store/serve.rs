//! The owner's side: a Unix socket in the database folder, readable and writable by this user
//! only, on which every other LogReasoner process using the database sends its calls (see
//! `client`). One thread accepts; one thread per connection answers its calls in order.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use serde_json::{json, Value};

use super::client::tree_name;
use super::{Local, PreferenceLabel, ReviewDecision, SessionState, StoreError, TaskInstance};

/// The socket's file name in the database folder.
pub(crate) const SOCKET_FILE: &str = "owner.sock";

/// The running server; dropping it stops serving and lets the database close.
pub(crate) struct Server {
    shared: Arc<Shared>,
}

struct Shared {
    /// The database, taken out when the server stops so no thread keeps it open.
    local: RwLock<Option<Local>>,
    stop: AtomicBool,
    socket: PathBuf,
}

impl Server {
    /// Serves `local` on the database folder's socket. A socket that cannot be made (a folder
    /// path too long for one, a read-only folder) only means other processes cannot join: they
    /// get the "held by another process" message as before.
    pub(crate) fn start(path: &Path, local: Local) -> Server {
        let socket = path.join(SOCKET_FILE);
        let shared = Arc::new(Shared {
            local: RwLock::new(Some(local)),
            stop: AtomicBool::new(false),
            socket: socket.clone(),
        });
        // A socket left by an owner that died: this process holds sled's lock, so it is stale.
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket).and_then(|l| {
            std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))?;
            Ok(l)
        });
        match listener {
            Ok(listener) => {
                let accepting = Arc::clone(&shared);
                let spawned = std::thread::Builder::new()
                    .name("db-owner".into())
                    .spawn(move || accept(listener, accepting));
                if let Err(e) = spawned {
                    tracing::warn!(error = %e, "cannot start serving the database");
                }
            }
            Err(e) => tracing::warn!(
                socket = %socket.display(),
                error = %e,
                "cannot serve the database to other processes"
            ),
        }
        Server { shared }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        // Wake the accepting thread so it sees the stop.
        let _ = UnixStream::connect(&self.shared.socket);
        // The socket goes while this process still holds sled's lock: once the database is let go
        // below, the next owner binds its own socket here, which must not be removed by this one.
        let _ = std::fs::remove_file(&self.shared.socket);
        self.shared
            .local
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }
}

fn accept(listener: UnixListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let serving = Arc::clone(&shared);
        let _ = std::thread::Builder::new()
            .name("db-client".into())
            .spawn(move || answer(stream, &serving));
    }
}

/// Answers one connection's calls until it closes or the server stops.
fn answer(stream: UnixStream, shared: &Shared) {
    let Ok(reading) = stream.try_clone() else {
        return;
    };
    let mut writer = stream;
    for line in BufReader::new(reading).lines() {
        let Ok(line) = line else { return };
        // A clone per call: once the server stops, no connection keeps the database open.
        let Some(local) = shared
            .local
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        else {
            return;
        };
        let answer = match serde_json::from_str::<Value>(&line) {
            Ok(request) => match dispatch(&local, &request) {
                Ok(value) => json!({ "ok": value }),
                Err(e) => json!({ "err": error_json(&e) }),
            },
            Err(e) => json!({ "err": { "kind": "request", "message": e.to_string() } }),
        };
        drop(local);
        let mut text = answer.to_string();
        text.push('\n');
        if writer.write_all(text.as_bytes()).is_err() {
            return;
        }
    }
}

/// A request's field, decoded.
fn field<T: serde::de::DeserializeOwned>(request: &Value, name: &str) -> Result<T, StoreError> {
    serde_json::from_value(request.get(name).cloned().unwrap_or(Value::Null))
        .map_err(|e| StoreError::Remote(format!("request field `{name}`: {e}")))
}

/// Runs one call on the owner's database.
fn dispatch(local: &Local, request: &Value) -> Result<Value, StoreError> {
    let op = request.get("op").and_then(Value::as_str).unwrap_or("");
    let tree = || {
        let name: String = field(request, "tree")?;
        tree_name(&name).ok_or_else(|| StoreError::Remote(format!("no tree `{name}`")))
    };
    Ok(match op {
        "schema_version" => json!(local.schema_version()?),
        "next_id" => json!(local.next_id()?),
        "put" => {
            let value: Value = field(request, "value")?;
            local.put_in(tree()?, field(request, "id")?, &value)?;
            Value::Null
        }
        "get" => local
            .get_in::<Value>(tree()?, field(request, "id")?)?
            .unwrap_or(Value::Null),
        "remove" => json!(local.remove_in(tree()?, field(request, "id")?)?),
        "all" => Value::Array(local.all_in(tree()?)?),
        "count" => json!(local.count_in(tree()?)?),
        "record_label" => {
            let mut label: PreferenceLabel = field(request, "label")?;
            let session: Option<SessionState> = field(request, "session")?;
            json!(local.record_label(&mut label, session.as_ref())?)
        }
        "insert_instance" => {
            let mut instance: TaskInstance = field(request, "instance")?;
            json!(local.insert_instance(&mut instance)?)
        }
        "instance_by_hash" => json!(local.instance_by_hash(&field::<String>(request, "hash")?)?),
        "undo_label" => json!(local.undo_label(field(request, "id")?)?),
        "record_review" => {
            let mut decision: ReviewDecision = field(request, "decision")?;
            json!(local.record_review(&mut decision)?)
        }
        "session" => json!(local.session(
            &field::<String>(request, "annotator")?,
            &field::<String>(request, "screen")?,
        )?),
        "save_session" => {
            local.save_session(&field::<SessionState>(request, "state")?)?;
            Value::Null
        }
        "flush" => {
            local.flush()?;
            Value::Null
        }
        "counts" => json!(local.counts()?),
        other => return Err(StoreError::Remote(format!("unknown call `{other}`"))),
    })
}

/// An error as JSON for the client, typed where callers match on it (`client::error_from`).
fn error_json(e: &StoreError) -> Value {
    match e {
        StoreError::SameSides { chosen, rejected } => {
            json!({"kind": "same_sides", "chosen": chosen, "rejected": rejected, "message": e.to_string()})
        }
        StoreError::NotFound { tree, id } => {
            json!({"kind": "not_found", "tree": tree, "id": id, "message": e.to_string()})
        }
        StoreError::DiskFull { path } => {
            json!({"kind": "disk_full", "path": path, "message": e.to_string()})
        }
        _ => json!({"kind": "other", "message": e.to_string()}),
    }
}
