//! SQL functions the filter language needs and SQLite lacks in our build.

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;

/// Registers `kulisse_geo_distance(lonA, latA, lonB, latB)` (haversine, km).
pub(crate) fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "kulisse_geo_distance",
        4,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let mut v = [0.0f64; 4];
            for (i, slot) in v.iter_mut().enumerate() {
                *slot = ctx.get::<Option<f64>>(i)?.unwrap_or(0.0);
            }
            Ok(kulisse_store::geo::haversine_km(v[0], v[1], v[2], v[3]))
        },
    )
}
