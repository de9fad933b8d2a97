//! Downloading a provider's avatar, never more than the file field takes.

use kulisse_core::auth::oauth2::ProviderError;

/// The body of `url`, refused past `max_bytes` (read in chunks, so a huge or endless
/// answer costs at most that much memory).
pub(crate) async fn download(
    http: &reqwest::Client,
    url: &str,
    max_bytes: u64,
) -> Result<Vec<u8>, ProviderError> {
    let fail = |e: reqwest::Error| ProviderError::Download(e.to_string());
    let mut response = http
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(fail)?;
    if response.content_length().is_some_and(|n| n > max_bytes) {
        return Err(ProviderError::Download(format!(
            "larger than {max_bytes} bytes"
        )));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(fail)? {
        body.extend_from_slice(&chunk);
        if body.len() as u64 > max_bytes {
            return Err(ProviderError::Download(format!(
                "larger than {max_bytes} bytes"
            )));
        }
    }
    Ok(body)
}
