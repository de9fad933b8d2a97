//! The `Thumbnailer` adapter: png, jpeg, gif (first frame) and webp, decoded by `image`
//! once their header's size is known to be within bounds (no decompression bombs),
//! resized with Lanczos3 (PocketBase's filter) by `fast_image_resize`, and encoded in the
//! original's format (PNG for WebP, as PocketBase).

use std::io::Cursor;

use fast_image_resize::{ResizeOptions, Resizer};
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use kulisse_core::files::{ThumbError, ThumbMode, ThumbSize, Thumbnailer};

/// JPEG thumbs' quality.
const JPEG_QUALITY: u8 = 90;

/// Makes thumbnails of images of at most `max_pixels` pixels (and no larger thumbs).
pub struct Thumbnails {
    max_pixels: u64,
}

impl Thumbnails {
    /// Thumbs of images of at most `max_pixels` pixels.
    pub fn new(max_pixels: u64) -> Thumbnails {
        Thumbnails { max_pixels }
    }

    fn reader<'a>(&self, original: &'a [u8]) -> Result<ImageReader<Cursor<&'a [u8]>>, ThumbError> {
        let mut reader = ImageReader::new(Cursor::new(original))
            .with_guessed_format()
            .map_err(unreadable)?;
        let mut limits = Limits::default();
        // Room for the decoded image (at most 8 bytes a pixel) and the decoder's own.
        limits.max_alloc = Some(self.max_pixels.saturating_mul(8).saturating_add(64 << 20));
        reader.limits(limits);
        Ok(reader)
    }
}

fn unreadable(e: impl std::fmt::Display) -> ThumbError {
    ThumbError::Unreadable(e.to_string())
}

impl Thumbnailer for Thumbnails {
    fn thumbnail(&self, original: &[u8], size: ThumbSize) -> Result<Vec<u8>, ThumbError> {
        let format = self.reader(original)?.format();
        let out_format = match format {
            Some(ImageFormat::Png | ImageFormat::WebP) => ImageFormat::Png,
            Some(ImageFormat::Jpeg) => ImageFormat::Jpeg,
            Some(ImageFormat::Gif) => ImageFormat::Gif,
            other => return Err(unreadable(format!("no thumbs of {other:?}"))),
        };
        let (width, height) = self
            .reader(original)?
            .into_dimensions()
            .map_err(unreadable)?;
        if u64::from(width) * u64::from(height) > self.max_pixels || width == 0 || height == 0 {
            return Err(ThumbError::TooLarge { width, height });
        }
        let source = eight_bit(self.reader(original)?.decode().map_err(unreadable)?);
        let plan = Plan::of(width, height, size);
        if u64::from(plan.width) * u64::from(plan.height) > self.max_pixels {
            return Err(ThumbError::TooLarge {
                width: plan.width,
                height: plan.height,
            });
        }
        let mut thumb = DynamicImage::new(plan.width, plan.height, source.color());
        let (left, top, w, h) = plan.crop;
        Resizer::new()
            .resize(
                &source,
                &mut thumb,
                &ResizeOptions::new().crop(left, top, w, h),
            )
            .map_err(unreadable)?;
        let mut out = Vec::new();
        match out_format {
            ImageFormat::Jpeg => thumb
                .write_with_encoder(JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY))
                .map_err(unreadable)?,
            other => thumb
                .write_to(&mut Cursor::new(&mut out), other)
                .map_err(unreadable)?,
        }
        Ok(out)
    }
}

/// `image` as 8 bits a channel (what the resizer and every encoder take).
fn eight_bit(image: DynamicImage) -> DynamicImage {
    match image {
        DynamicImage::ImageLuma8(_)
        | DynamicImage::ImageLumaA8(_)
        | DynamicImage::ImageRgb8(_)
        | DynamicImage::ImageRgba8(_) => image,
        other if other.color().has_alpha() => DynamicImage::ImageRgba8(other.to_rgba8()),
        other => DynamicImage::ImageRgb8(other.to_rgb8()),
    }
}

/// A thumb's size and the part of the original (left, top, width, height) it shows.
#[derive(Debug, PartialEq)]
struct Plan {
    width: u32,
    height: u32,
    crop: (f64, f64, f64, f64),
}

impl Plan {
    /// PocketBase's thumbs of a `sw`×`sh` image: `0` for a side keeps the aspect ratio;
    /// fit never enlarges nor crops; the others cover `W`×`H` and crop the rest.
    fn of(sw: u32, sh: u32, size: ThumbSize) -> Plan {
        let (fw, fh) = (f64::from(sw), f64::from(sh));
        let whole = (0.0, 0.0, fw, fh);
        let scaled = |n: f64| (n.round() as u32).max(1);
        let (w, h) = (size.width, size.height);
        if w == 0 || h == 0 {
            let (width, height) = match w {
                0 => (scaled(fw * f64::from(h) / fh), h),
                _ => (w, scaled(fh * f64::from(w) / fw)),
            };
            return Plan {
                width,
                height,
                crop: whole,
            };
        }
        let (tw, th) = (f64::from(w), f64::from(h));
        if size.mode == ThumbMode::Fit {
            if sw <= w && sh <= h {
                return Plan {
                    width: sw,
                    height: sh,
                    crop: whole,
                };
            }
            let ratio = (tw / fw).min(th / fh);
            return Plan {
                width: scaled(fw * ratio),
                height: scaled(fh * ratio),
                crop: whole,
            };
        }
        let scale = (tw / fw).max(th / fh);
        let (cw, ch) = ((tw / scale).min(fw), (th / scale).min(fh));
        let left = (fw - cw) / 2.0;
        let top = match size.mode {
            ThumbMode::Top => 0.0,
            ThumbMode::Bottom => fh - ch,
            _ => (fh - ch) / 2.0,
        };
        Plan {
            width: w,
            height: h,
            crop: (left, top, cw, ch),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn size(text: &str) -> ThumbSize {
        ThumbSize::parse(text).unwrap()
    }

    #[test]
    fn plans_follow_pocketbase_on_a_200_by_100_image() {
        let plan = |text| {
            let p = Plan::of(200, 100, size(text));
            (p.width, p.height, p.crop)
        };
        assert_eq!(plan("50x0"), (50, 25, (0.0, 0.0, 200.0, 100.0)));
        assert_eq!(plan("0x50"), (100, 50, (0.0, 0.0, 200.0, 100.0)));
        assert_eq!(plan("20x20f"), (20, 10, (0.0, 0.0, 200.0, 100.0)));
        assert_eq!(plan("300x300f"), (200, 100, (0.0, 0.0, 200.0, 100.0)));
        assert_eq!(plan("100x100"), (100, 100, (50.0, 0.0, 100.0, 100.0)));
        assert_eq!(plan("30x30t"), (30, 30, (50.0, 0.0, 100.0, 100.0)));
        assert_eq!(plan("40x10b"), (40, 10, (0.0, 50.0, 200.0, 50.0)));
        assert_eq!(plan("40x10"), (40, 10, (0.0, 25.0, 200.0, 50.0)));
    }

    fn encoded(format: ImageFormat, image: DynamicImage) -> Vec<u8> {
        let mut out = Vec::new();
        image.write_to(&mut Cursor::new(&mut out), format).unwrap();
        out
    }

    #[test]
    fn thumbs_keep_the_format_but_webp_becomes_png() {
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_fn(200, 100, |x, _| {
            image::Rgb(if x < 100 { [0, 0, 255] } else { [255, 0, 0] })
        }));
        let thumbs = Thumbnails::new(1_000_000);
        for (format, made) in [
            (ImageFormat::Png, ImageFormat::Png),
            (ImageFormat::Jpeg, ImageFormat::Jpeg),
            (ImageFormat::Gif, ImageFormat::Gif),
            (ImageFormat::WebP, ImageFormat::Png),
        ] {
            let thumb = thumbs
                .thumbnail(&encoded(format, image.clone()), size("50x0"))
                .unwrap();
            assert_eq!(image::guess_format(&thumb).unwrap(), made, "{format:?}");
            let decoded = image::load_from_memory(&thumb).unwrap();
            assert_eq!((decoded.width(), decoded.height()), (50, 25), "{format:?}");
        }
        let fill = thumbs
            .thumbnail(&encoded(ImageFormat::Png, image), size("10x10t"))
            .unwrap();
        let fill = image::load_from_memory(&fill).unwrap().to_rgb8();
        assert_eq!(fill.dimensions(), (10, 10));
        assert_eq!(
            fill.get_pixel(0, 0).0,
            [0, 0, 255],
            "the middle of the image (its blue half's edge)"
        );
    }

    #[test]
    fn a_header_declaring_too_many_pixels_is_refused_before_decoding() {
        // A PNG that says 100000 x 100000 pixels and holds next to nothing.
        let chunk = |kind: &[u8], data: &[u8]| {
            let mut out = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
            out.extend_from_slice(kind);
            out.extend_from_slice(data);
            let crc = crc32fast::hash(&out[4..]);
            out.extend_from_slice(&crc.to_be_bytes());
            out
        };
        let mut header = 100_000u32.to_be_bytes().repeat(2);
        header.extend_from_slice(&[8, 6, 0, 0, 0]);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(chunk(b"IHDR", &header));
        png.extend(chunk(
            b"IDAT",
            &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
        ));
        png.extend(chunk(b"IEND", &[]));
        let thumbs = Thumbnails::new(50_000_000);
        assert_eq!(
            thumbs.thumbnail(&png, size("100x100")),
            Err(ThumbError::TooLarge {
                width: 100_000,
                height: 100_000
            })
        );
        assert!(matches!(
            thumbs.thumbnail(b"<svg></svg>", size("100x100")),
            Err(ThumbError::Unreadable(_))
        ));
    }
}
