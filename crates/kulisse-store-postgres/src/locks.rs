//! [`Store::try_lock`](kulisse_store::Store::try_lock) on PostgreSQL: a session advisory
//! lock, taken on a connection that then leaves the pool. Releasing it unlocks it on that
//! connection; dropping the guard closes the connection, which releases the lock a moment
//! later; so does the death of the process holding it.

use kulisse_store::{NamedLock, StoreError};

use crate::classify::{classify, pool_error};

/// Takes the advisory lock of `name` on a connection of `pool`, if no session holds it.
pub(crate) async fn try_lock(
    pool: &deadpool_postgres::Pool,
    name: &str,
) -> Result<Option<NamedLock>, StoreError> {
    let client = pool.get().await.map_err(|e| pool_error(&e))?;
    let row = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&key(name)])
        .await
        .map_err(|e| classify(&e, None))?;
    let taken: bool = row.try_get(0).map_err(|e| classify(&e, None))?;
    if !taken {
        return Ok(None);
    }
    let client = std::sync::Arc::new(deadpool_postgres::Object::take(client));
    let unlocking = std::sync::Arc::clone(&client);
    let key = key(name);
    Ok(Some(NamedLock::releasing(client, move || {
        Box::pin(async move {
            // Failing, the connection's close releases it anyway.
            let _ = unlocking
                .execute("SELECT pg_advisory_unlock($1)", &[&key])
                .await;
        })
    })))
}

/// The lock's 64-bit key: FNV-1a of the name, so every node (whatever its build) computes
/// the same key, as the standard library's hasher does not promise.
fn key(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fnv1a_of_the_name() {
        assert_eq!(
            key(""),
            i64::from_ne_bytes(0xcbf2_9ce4_8422_2325_u64.to_ne_bytes())
        );
        assert_ne!(key("cron:a"), key("cron:b"));
    }
}
