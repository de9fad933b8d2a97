//! bench-ceiling: the bare server kulisse's targets are relative to (issue #5).
//!
//! hyper 1 (HTTP/1.1 keep-alive) + rusqlite, nothing else: `GET /view/{id}` does the same
//! SQLite point read by id as a record view and encodes the row with serde_json; `GET /health`
//! answers a fixed JSON body. It fills its own table (same columns and row count as the `posts`
//! collection of bench/run) in a fresh database file, and writes the ids for the driver.
//!
//! usage: bench-ceiling --listen 127.0.0.1:PORT --db FILE --rows N --ids-out FILE [--body TEXT]

use std::cell::RefCell;
use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::Serialize;
use tokio::net::TcpListener;

/// The row as a PocketBase-shaped record (keys alphabetical, like PocketBase's JSON).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Post {
    author: String,
    body: String,
    collection_id: &'static str,
    collection_name: &'static str,
    created: String,
    id: String,
    published: bool,
    title: String,
    updated: String,
    views: i64,
}

const HEALTH: &[u8] = br#"{"message":"API is healthy.","code":200,"data":{}}"#;

thread_local! {
    static DB: RefCell<Option<Connection>> = const { RefCell::new(None) };
}

static DB_PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn view(id: &str) -> rusqlite::Result<Option<Vec<u8>>> {
    DB.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let path = DB_PATH.get().expect("db path");
            let c = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            *slot = Some(c);
        }
        let conn = slot.as_ref().expect("connection");
        let mut stmt = conn.prepare_cached(
            "SELECT id, title, body, views, published, author, created, updated \
             FROM posts WHERE id = ?1",
        )?;
        let post = stmt
            .query_row([id], |r| {
                Ok(Post {
                    id: r.get(0)?,
                    title: r.get(1)?,
                    body: r.get(2)?,
                    views: r.get(3)?,
                    published: r.get(4)?,
                    author: r.get(5)?,
                    created: r.get(6)?,
                    updated: r.get(7)?,
                    collection_id: "pbc_1125843985",
                    collection_name: "posts",
                })
            })
            .optional()?;
        Ok(post.map(|p| serde_json::to_vec(&p).expect("serialize")))
    })
}

fn json(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(body.into()))
        .expect("response")
}

async fn handle(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path();
    Ok(if path == "/health" {
        json(StatusCode::OK, Bytes::from_static(HEALTH))
    } else if let Some(id) = path.strip_prefix("/view/") {
        match view(id) {
            Ok(Some(body)) => json(StatusCode::OK, body),
            Ok(None) => json(StatusCode::NOT_FOUND, &br#"{"status":404}"#[..]),
            Err(e) => json(StatusCode::INTERNAL_SERVER_ERROR, format!("{{\"error\":{:?}}}", e.to_string())),
        }
    } else {
        json(StatusCode::NOT_FOUND, &br#"{"status":404}"#[..])
    })
}

fn random_id(state: &mut u64) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..15)
        .map(|_| {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            ALPHABET[(*state % 36) as usize] as char
        })
        .collect()
}

fn fill(path: &str, rows: usize, body: &str, ids_out: &str) -> rusqlite::Result<()> {
    let _ = std::fs::remove_file(path);
    let mut c = Connection::open(path)?;
    c.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
         CREATE TABLE posts (id TEXT PRIMARY KEY NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,
           views NUMERIC NOT NULL, published BOOLEAN NOT NULL, author TEXT NOT NULL,
           created TEXT NOT NULL, updated TEXT NOT NULL);",
    )?;
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    let authors: Vec<String> = (0..10).map(|_| random_id(&mut state)).collect();
    let mut ids = Vec::with_capacity(rows);
    let tx = c.transaction()?;
    {
        let mut ins = tx.prepare("INSERT INTO posts VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)")?;
        for n in 0..rows {
            let id = random_id(&mut state);
            ins.execute(rusqlite::params![
                id,
                format!("Post {n}"),
                body,
                (state % 1000) as i64,
                state & 1 == 1,
                authors[n % authors.len()],
                "2025-01-01 00:00:00.000Z",
            ])?;
            ids.push(id);
        }
    }
    tx.commit()?;
    std::fs::write(ids_out, ids.join("\n") + "\n").expect("write ids");
    Ok(())
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut listen, mut db, mut rows, mut ids_out) =
        ("127.0.0.1:8099".to_string(), "ceiling.db".to_string(), 20_000, "ceiling_ids.txt".to_string());
    let mut body = "Lorem ipsum dolor sit amet.".to_string();
    while let (Some(k), Some(v)) = (args.next(), args.next()) {
        match k.as_str() {
            "--listen" => listen = v,
            "--db" => db = v,
            "--rows" => rows = v.parse().expect("--rows N"),
            "--ids-out" => ids_out = v,
            "--body" => body = v,
            _ => panic!("unknown flag {k}"),
        }
    }
    fill(&db, rows, &body, &ids_out).expect("fill database");
    DB_PATH.set(db).expect("set once");
    let listener = TcpListener::bind(&listen).await.expect("bind");
    eprintln!("bench-ceiling listening on {listen}");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), hyper::service::service_fn(handle))
                .await;
        });
    }
}
