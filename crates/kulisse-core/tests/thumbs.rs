//! Thumbs are made once however many ask at the same time, a few at once at most, and
//! never of an original too large to read.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kulisse_blob::ObjectBlobs;
use kulisse_core::files::{BlobStore, ThumbError, ThumbSize, Thumbnailer, Thumbs};

/// A slow thumbnailer that counts what it makes and how many it made at once.
#[derive(Default)]
struct Counting {
    made: AtomicUsize,
    running: AtomicUsize,
    most_at_once: AtomicUsize,
}

impl Thumbnailer for Counting {
    fn thumbnail(&self, original: &[u8], _: ThumbSize) -> Result<Vec<u8>, ThumbError> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_at_once.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(100));
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.made.fetch_add(1, Ordering::SeqCst);
        Ok(original.to_vec())
    }
}

async fn setup(
    max_original: u64,
) -> (tempfile::TempDir, Arc<dyn BlobStore>, Arc<Counting>, Thumbs) {
    let dir = tempfile::tempdir().unwrap();
    let blobs: Arc<dyn BlobStore> =
        Arc::new(ObjectBlobs::local(&dir.path().join("storage")).unwrap());
    let original = dir.path().join("original");
    std::fs::write(&original, b"image bytes").unwrap();
    blobs.put("c/r/a.png", &original).await.unwrap();
    let counting = Arc::new(Counting::default());
    let thumbs = Thumbs::new(
        Arc::clone(&counting) as Arc<dyn Thumbnailer>,
        2,
        max_original,
    );
    (dir, blobs, counting, thumbs)
}

fn size() -> ThumbSize {
    ThumbSize::parse("100x100").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_for_one_thumb_at_once_wait_for_one_generation() {
    let (_dir, blobs, counting, thumbs) = setup(1 << 20).await;
    let asks = (0..8).map(|_| {
        let (blobs, thumbs) = (Arc::clone(&blobs), thumbs.clone());
        tokio::spawn(async move {
            thumbs
                .ensure(
                    &blobs,
                    "c/r/a.png",
                    "c/r/thumbs_a.png/100x100_a.png",
                    size(),
                )
                .await
        })
    });
    for ask in futures::future::join_all(asks).await {
        ask.unwrap().unwrap();
    }
    assert_eq!(counting.made.load(Ordering::SeqCst), 1);
    assert!(
        blobs
            .get("c/r/thumbs_a.png/100x100_a.png", None)
            .await
            .is_ok()
    );
    thumbs
        .ensure(
            &blobs,
            "c/r/a.png",
            "c/r/thumbs_a.png/100x100_a.png",
            size(),
        )
        .await
        .unwrap();
    assert_eq!(
        counting.made.load(Ordering::SeqCst),
        1,
        "made once, then served"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_most_the_allowed_number_are_made_at_once() {
    let (_dir, blobs, counting, thumbs) = setup(1 << 20).await;
    let asks = (0..6).map(|i| {
        let (blobs, thumbs) = (Arc::clone(&blobs), thumbs.clone());
        tokio::spawn(async move {
            let key = format!("c/r/thumbs_a.png/{i}x{i}_a.png");
            thumbs.ensure(&blobs, "c/r/a.png", &key, size()).await
        })
    });
    for ask in futures::future::join_all(asks).await {
        ask.unwrap().unwrap();
    }
    assert_eq!(counting.made.load(Ordering::SeqCst), 6);
    assert_eq!(counting.most_at_once.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_original_too_large_to_read_gets_no_thumb() {
    let (_dir, blobs, counting, thumbs) = setup(4).await;
    let made = thumbs
        .ensure(
            &blobs,
            "c/r/a.png",
            "c/r/thumbs_a.png/100x100_a.png",
            size(),
        )
        .await;
    assert!(matches!(made, Err(ThumbError::Unreadable(_))), "{made:?}");
    assert_eq!(counting.made.load(Ordering::SeqCst), 0);
}
