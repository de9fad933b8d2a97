//! What an upload is, by its content (as PocketBase checks `mimeTypes`): renaming a file
//! does not get it past a field that takes only images.

/// How much of a file [`media_type`] looks at.
pub const HEAD: usize = 8 * 1024;

/// The media type of a file starting with `head` and named `name`: its magic bytes'
/// type when it has some; for text, the type its extension names if that is a text
/// format (CSV, SVG, JSON, …), else `text/plain`; `application/octet-stream` otherwise.
pub fn media_type(head: &[u8], name: &str) -> String {
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_owned();
    }
    if !is_text(head) {
        return "application/octet-stream".to_owned();
    }
    match mime_guess::from_path(name).first() {
        Some(guess) if is_text_format(&guess) => guess.essence_str().to_owned(),
        _ => "text/plain".to_owned(),
    }
}

/// Whether `head` reads as UTF-8 text (a character cut at its end allowed) without NULs.
fn is_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    valid && !head.contains(&0)
}

/// Media types whose files are text.
fn is_text_format(mime: &mime_guess::Mime) -> bool {
    mime.type_() == mime_guess::mime::TEXT
        || matches!(
            mime.essence_str(),
            "image/svg+xml"
                | "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-javascript"
                | "application/ld+json"
                | "application/rtf"
                | "application/x-sh"
                | "application/toml"
                | "application/yaml"
        )
}

#[cfg(test)]
mod tests {
    use super::media_type;

    #[test]
    fn content_decides_and_the_extension_only_names_a_text_format() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(media_type(png, "photo.png"), "image/png");
        assert_eq!(media_type(png, "renamed.txt"), "image/png");
        assert_eq!(media_type(b"hello", "fake.png"), "text/plain");
        assert_eq!(media_type(b"hello", "notes.txt"), "text/plain");
        assert_eq!(media_type(b"a,b\n1,2\n", "x.csv"), "text/csv");
        assert_eq!(
            media_type(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "i.svg"),
            "image/svg+xml"
        );
        assert_eq!(media_type(b"{\"a\": 1}", "d.json"), "application/json");
        assert_eq!(media_type("grüße".as_bytes(), "n.txt"), "text/plain");
        assert_eq!(media_type(&"é".as_bytes()[..1], "cut.txt"), "text/plain");
        assert_eq!(
            media_type(b"\0\x01\x02\xff", "blob.txt"),
            "application/octet-stream"
        );
        assert_eq!(media_type(b"%PDF-1.7\n", "doc.pdf"), "application/pdf");
        assert_eq!(media_type(b"", "empty.txt"), "text/plain");
    }
}
