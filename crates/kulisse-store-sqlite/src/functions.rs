//! SQL functions the filter language needs and SQLite lacks in our build.

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;

/// Earth radius in km, as PocketBase's `geoDistance` uses.
const EARTH_RADIUS_KM: f64 = 6371.0;

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
            Ok(haversine(v[0], v[1], v[2], v[3]))
        },
    )
}

fn haversine(lon_a: f64, lat_a: f64, lon_b: f64, lat_b: f64) -> f64 {
    let (pa, pb) = (lat_a.to_radians(), lat_b.to_radians());
    let dlat = (lat_b - lat_a).to_radians();
    let dlon = (lon_b - lon_a).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + pa.cos() * pb.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().asin()
}

#[cfg(test)]
mod tests {
    #[test]
    fn sofia_to_plovdiv_is_about_132_km() {
        let d = super::haversine(23.3219, 42.6977, 24.7453, 42.1354);
        assert!((d - 132.0).abs() < 3.0, "{d}");
    }
}
