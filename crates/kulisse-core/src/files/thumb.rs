//! Thumbnails (spec §7.4): `?thumb=WxH[t|b|f]` of an image, for the sizes its field
//! declares and `100x100`. Each is made once, stored next to the original
//! ([`super::thumb_key`]) and served from there after.
//! Making one is CPU work for the [`Thumbnailer`] port (`kulisse-thumbs`), bounded: a few
//! at once, one per thumb however many ask for it together.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::workers::Workers;
use super::{BlobError, BlobStore};
use bytes::Bytes;
use futures::TryStreamExt;

/// The largest original a thumb is made of (it is read whole into memory).
pub const MAX_THUMB_ORIGINAL: u64 = 64 << 20;

/// The size PocketBase always allows, declared or not.
pub const ALWAYS_ALLOWED: &str = "100x100";

/// A thumb size, `WxH` with an optional mode; `0` for one side keeps the aspect ratio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThumbSize {
    /// Width in pixels; 0 = from the height and the aspect ratio.
    pub width: u32,
    /// Height in pixels; 0 = from the width and the aspect ratio.
    pub height: u32,
    /// How the image is fitted into `width` × `height`.
    pub mode: ThumbMode,
}

/// How an image becomes a `W`×`H` thumb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThumbMode {
    /// Scaled to cover, cropped around the centre (`WxH`).
    Center,
    /// Scaled to cover, cropped from the top (`WxHt`).
    Top,
    /// Scaled to cover, cropped from the bottom (`WxHb`).
    Bottom,
    /// Scaled to fit inside, never cropped nor enlarged (`WxHf`).
    Fit,
}

impl ThumbSize {
    /// `WxH`, `WxHt`, `WxHb` or `WxHf`; `None` for anything else and `0x0`.
    pub fn parse(text: &str) -> Option<ThumbSize> {
        let (body, mode) = match text.as_bytes().last()? {
            b't' => (&text[..text.len() - 1], ThumbMode::Top),
            b'b' => (&text[..text.len() - 1], ThumbMode::Bottom),
            b'f' => (&text[..text.len() - 1], ThumbMode::Fit),
            _ => (text, ThumbMode::Center),
        };
        let (w, h) = body.split_once('x')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(w) || !digits(h) {
            return None;
        }
        let size = ThumbSize {
            width: w.parse().ok()?,
            height: h.parse().ok()?,
            mode,
        };
        (size.width > 0 || size.height > 0).then_some(size)
    }
}

/// Makes thumbnails. The adapter checks an image's declared size before decoding it.
pub trait Thumbnailer: Send + Sync + 'static {
    /// The thumb of `original` (png, jpeg, gif's first frame or webp) at `size`, encoded
    /// as [`thumb_type`] says.
    ///
    /// # Errors
    /// When the image is of another type, broken, or larger than allowed.
    fn thumbnail(&self, original: &[u8], size: ThumbSize) -> Result<Vec<u8>, ThumbError>;
}

/// Why no thumb was made (the original is served instead).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThumbError {
    /// The image declares more pixels than a thumb is made of.
    #[error("the image is too large for a thumb ({width}x{height})")]
    TooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
    },
    /// Not an image a thumb is made of, or a broken one.
    #[error("cannot make a thumb: {0}")]
    Unreadable(String),
    /// The file store failed.
    #[error(transparent)]
    Storage(#[from] BlobError),
}

/// The media type of a thumb of an image of type `original`, if thumbs are made of it:
/// the original's, but PNG for WebP (as PocketBase, whose encoder has no WebP).
pub fn thumb_type(original: &str) -> Option<&'static str> {
    match original {
        "image/png" | "image/webp" => Some("image/png"),
        "image/jpeg" => Some("image/jpeg"),
        "image/gif" => Some("image/gif"),
        _ => None,
    }
}

/// Makes thumbs on demand: on a pool of a few threads (at most that many at once), and
/// one per key at a time (those who ask for a thumb being made wait for it).
#[derive(Clone)]
pub struct Thumbs {
    maker: Arc<dyn Thumbnailer>,
    workers: Arc<Workers>,
    making: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    /// Originals larger than this are not read for a thumb.
    max_original: u64,
}

impl Thumbs {
    /// Thumbs by `maker`, `at_once` at most at a time, of originals up to `max_original`
    /// bytes.
    pub fn new(maker: Arc<dyn Thumbnailer>, at_once: usize, max_original: u64) -> Thumbs {
        Thumbs {
            maker,
            workers: Arc::new(Workers::new(at_once, "kulisse-thumbs")),
            making: Arc::default(),
            max_original,
        }
    }

    /// Makes sure thumb `key` of the blob under `original` exists in `blobs`, making it
    /// when it does not.
    ///
    /// # Errors
    /// When it could not be made or stored.
    pub async fn ensure(
        &self,
        blobs: &Arc<dyn BlobStore>,
        original: &str,
        key: &str,
        size: ThumbSize,
    ) -> Result<(), ThumbError> {
        let lock = {
            let mut making = self.making.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(making.entry(key.to_owned()).or_default())
        };
        let result = async {
            let _one = lock.lock().await;
            // Made while this request waited for the lock?
            match blobs.get(key, None).await {
                Ok(_) => return Ok(()),
                Err(BlobError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
            let source = blobs.get(original, None).await?;
            if source.size > self.max_original {
                return Err(ThumbError::Unreadable(format!(
                    "the original has {} bytes, more than {} a thumb is made of",
                    source.size, self.max_original
                )));
            }
            let chunks: Vec<Bytes> = source.body.try_collect().await?;
            let maker = Arc::clone(&self.maker);
            let made = self
                .workers
                .run(move || maker.thumbnail(&chunks.concat(), size))
                .await
                .ok_or_else(|| ThumbError::Unreadable("the thumbnailer panicked".into()))??;
            blobs.put_bytes(key, Bytes::from(made)).await?;
            Ok(())
        }
        .await;
        let mut making = self.making.lock().unwrap_or_else(|e| e.into_inner());
        // The last one out removes the key (the map holds one reference, this one another).
        if making.get(key).is_some_and(|l| Arc::strong_count(l) <= 2) {
            making.remove(key);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_pocketbase() {
        let size = |w, h, mode| {
            Some(ThumbSize {
                width: w,
                height: h,
                mode,
            })
        };
        assert_eq!(ThumbSize::parse("100x50"), size(100, 50, ThumbMode::Center));
        assert_eq!(ThumbSize::parse("0x50"), size(0, 50, ThumbMode::Center));
        assert_eq!(ThumbSize::parse("20x20t"), size(20, 20, ThumbMode::Top));
        assert_eq!(ThumbSize::parse("20x20b"), size(20, 20, ThumbMode::Bottom));
        assert_eq!(ThumbSize::parse("20x0f"), size(20, 0, ThumbMode::Fit));
        for bad in [
            "", "0x0", "0x0f", "x50", "50x", "50", "50x50x", "-1x5", "5x5q", "1e3x5",
        ] {
            assert_eq!(ThumbSize::parse(bad), None, "{bad}");
        }
    }
}
