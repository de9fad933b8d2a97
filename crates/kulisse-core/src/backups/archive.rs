//! A backup's archive: a zip of a directory (the stores' snapshots and the uploaded files)
//! with a manifest, `kulisse-backup.json`, that lists every entry with its size and
//! SHA-256, so a restore can tell a whole archive from a truncated or altered one.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

use super::paced::{Paced, Pacer};

/// The manifest's entry name.
pub(super) const MANIFEST: &str = "kulisse-backup.json";
/// The manifest's format this kulisse writes and reads.
const FORMAT: u32 = 1;
/// The most entries an archive may have.
const MAX_ENTRIES: usize = 1_000_000;
/// The largest manifest read.
const MAX_MANIFEST: u64 = 256 << 20;

/// What the archive holds.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    /// The format of this manifest.
    format: u32,
    /// The kulisse that made it.
    version: String,
    /// `sqlite` or `postgres`.
    engine: String,
    /// When the snapshot was taken.
    created: String,
    entries: Vec<Entry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    name: String,
    size: u64,
    sha256: String,
}

/// Zips every file under `dir` into `to` (names relative to `dir`, `/`-separated), with
/// the manifest last.
pub(super) fn write(dir: &Path, to: &Path, engine: &str, created: String) -> std::io::Result<()> {
    let pacer = Pacer::new(to.parent().unwrap_or(dir))?;
    let mut zip = zip::ZipWriter::new(Paced::new(BufWriter::new(File::create(to)?), pacer));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    let mut entries = Vec::new();
    for path in files_under(dir)? {
        let name = path
            .strip_prefix(dir)
            .map_err(std::io::Error::other)?
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        zip.start_file(name.as_str(), options)
            .map_err(std::io::Error::other)?;
        let (size, sha256) = copy_hashed(&mut File::open(&path)?, &mut zip)?;
        entries.push(Entry { name, size, sha256 });
    }
    let manifest = Manifest {
        format: FORMAT,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        engine: engine.to_owned(),
        created,
        entries,
    };
    zip.start_file(MANIFEST, options)
        .map_err(std::io::Error::other)?;
    serde_json::to_writer_pretty(&mut zip, &manifest)?;
    zip.finish()
        .map_err(std::io::Error::other)?
        .into_inner()
        .into_inner()
        .map_err(std::io::IntoInnerError::into_error)?
        .sync_all()
}

/// Unpacks the archive `zip` (made on `engine`) into `to`, checking it whole first: its
/// manifest, that each entry is a plain file at a path inside `to` (no `..`, no absolute
/// path, no link), that it is listed with the size and SHA-256 it unpacks to (so a
/// truncated, altered or bomb archive is caught as it is read, never beyond its listed
/// size), that nothing listed is missing, and that the disk has room for it. Why not,
/// when it is refused.
pub(super) fn unpack(zip: &Path, to: &Path, engine: &str) -> Result<(), String> {
    let file = File::open(zip).map_err(|e| format!("cannot open the archive: {e}"))?;
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| format!("not a readable zip archive: {e}"))?;
    if archive.len() > MAX_ENTRIES {
        return Err(format!("more than {MAX_ENTRIES} entries"));
    }
    let manifest: Manifest = {
        let entry = archive
            .by_name(MANIFEST)
            .map_err(|_| format!("no {MANIFEST}: not a kulisse backup"))?;
        serde_json::from_reader(entry.take(MAX_MANIFEST))
            .map_err(|e| format!("unreadable {MANIFEST}: {e}"))?
    };
    if manifest.format != FORMAT {
        return Err(format!(
            "manifest format {} (this kulisse reads {FORMAT})",
            manifest.format
        ));
    }
    if manifest.engine != engine {
        return Err(format!(
            "a backup of a {} store cannot be restored into a {engine} one",
            manifest.engine
        ));
    }
    let total: u64 = manifest.entries.iter().map(|e| e.size).sum();
    std::fs::create_dir_all(to).map_err(|e| format!("cannot unpack: {e}"))?;
    room_for(to, total)?;
    let mut listed: std::collections::HashMap<&str, &Entry> = manifest
        .entries
        .iter()
        .map(|e| (e.name.as_str(), e))
        .collect();
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| format!("entry {i} unreadable: {e}"))?;
        let name = entry
            .name()
            .map_err(|e| format!("entry {i} has no readable name: {e}"))?
            .into_owned();
        if name == MANIFEST || entry.is_dir() {
            continue;
        }
        if entry.is_symlink() {
            return Err(format!("{name} is a link"));
        }
        let Some(relative) = entry.enclosed_name() else {
            return Err(format!("{name} points outside the archive"));
        };
        let Some(want) = listed.remove(name.as_str()) else {
            return Err(format!("{name} is not in the manifest"));
        };
        let path = to.join(relative);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot unpack {name}: {e}"))?;
        }
        let mut out = File::create(&path).map_err(|e| format!("cannot unpack {name}: {e}"))?;
        // One byte more than listed shows an entry that is longer than it should be.
        let (size, sha256) = copy_hashed(&mut (&mut entry).take(want.size + 1), &mut out)
            .map_err(|e| format!("{name} is damaged: {e}"))?;
        if size != want.size || sha256 != want.sha256 {
            return Err(format!("{name} does not match its checksum"));
        }
    }
    if let Some(missing) = listed.keys().next() {
        return Err(format!("{missing} is missing"));
    }
    Ok(())
}

/// Whether the file system of `dir` has room for `bytes` more (and a tenth to spare).
fn room_for(dir: &Path, bytes: u64) -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        let stats = rustix::fs::statvfs(dir).map_err(|e| format!("cannot check the disk: {e}"))?;
        let free = stats.f_bavail.saturating_mul(stats.f_frsize);
        if bytes.saturating_add(bytes / 10) > free {
            return Err(format!(
                "it unpacks to {bytes} bytes, and the disk has {free} free"
            ));
        }
    }
    let _ = (dir, bytes);
    Ok(())
}

/// Copies `from` into `to`; the bytes copied and their SHA-256 (hex).
fn copy_hashed(from: &mut impl Read, to: &mut impl Write) -> std::io::Result<(u64, String)> {
    let mut hash = Sha256::new();
    let mut buf = vec![0; 64 * 1024];
    let mut size = 0;
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            return Ok((size, data_encoding::HEXLOWER.encode(&hash.finalize())));
        }
        hash.update(&buf[..n]);
        to.write_all(&buf[..n])?;
        size += n as u64;
    }
}

/// Every file under `dir`, sorted.
fn files_under(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                pending.push(entry.path());
            } else {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_archive_holds_the_files_and_a_manifest_of_them() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("storage/c1/r1")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(src.join("data.db"), b"db").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(src.join("storage/c1/r1/a.txt"), b"hello").unwrap_or_else(|e| panic!("{e}"));
        let zip_path = dir.path().join("b.zip");
        write(&src, &zip_path, "sqlite", "2026-12-05 10:00:00.000Z".into())
            .unwrap_or_else(|e| panic!("{e}"));
        let mut zip = zip::ZipArchive::new(File::open(&zip_path).unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<String> = zip
            .file_names()
            .map(|n| n.map(std::borrow::Cow::into_owned))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names, ["data.db", "storage/c1/r1/a.txt", MANIFEST]);
        let mut manifest = String::new();
        zip.by_name(MANIFEST)
            .unwrap_or_else(|e| panic!("{e}"))
            .read_to_string(&mut manifest)
            .unwrap_or_else(|e| panic!("{e}"));
        let manifest: serde_json::Value =
            serde_json::from_str(&manifest).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(manifest["engine"], "sqlite");
        assert_eq!(manifest["entries"][1]["name"], "storage/c1/r1/a.txt");
        assert_eq!(manifest["entries"][1]["size"], 5);
        assert_eq!(
            manifest["entries"][1]["sha256"],
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
    }
}
