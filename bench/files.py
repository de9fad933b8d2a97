#!/usr/bin/env python3
"""Upload bodies for bench/run's file phases (issue #15): multipart/form-data bodies with
one file part, the same bytes for every server.

    files.py body OUT FIELD NAME KIND   KIND: bytes:N (N random bytes), png50k (a ~50 KB
                                        PNG of noise), photo (a ~1600x1067 JPEG, needs Pillow)
The boundary is files.BOUNDARY.
"""
import os
import struct
import sys
import zlib

BOUNDARY = "kulissebench7MA4YWxkTrZu0gW"


def png_noise(width, height):
    """A PNG of random RGB pixels (random data does not compress: ~3 bytes a pixel)."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    raw = b"".join(b"\0" + os.urandom(width * 3) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def photo():
    """A photo-like JPEG: smooth gradients with grain, 1600 x 1067, quality 85."""
    from PIL import Image, ImageFilter
    w, h = 1600, 1067
    img = Image.frombytes("RGB", (w // 4, h // 4), os.urandom((w // 4) * (h // 4) * 3))
    img = img.filter(ImageFilter.GaussianBlur(6)).resize((w, h), Image.BICUBIC)
    grain = Image.frombytes("RGB", (w, h), os.urandom(w * h * 3))
    img = Image.blend(img, grain, 0.08)
    from io import BytesIO
    out = BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def content(kind):
    if kind.startswith("bytes:"):
        return os.urandom(int(kind[6:]))
    if kind == "png50k":
        return png_noise(128, 128)
    if kind == "photo":
        return photo()
    sys.exit(f"unknown kind {kind}")


def main():
    if len(sys.argv) != 6 or sys.argv[1] != "body":
        sys.exit(__doc__)
    out, field, name, kind = sys.argv[2:]
    data = content(kind)
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; "
            f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    with open(out, "wb") as f:
        f.write(head + data + f"\r\n--{BOUNDARY}--\r\n".encode())


if __name__ == "__main__":
    main()
