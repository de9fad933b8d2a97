//! Geographic helpers shared by every engine and the in-memory evaluator, so that
//! `geoDistance` means the same thing everywhere.

/// Earth radius in km, as PocketBase's `geoDistance` uses.
pub const EARTH_RADIUS_KM: f64 = 6371.0;

/// Great-circle distance in km between two lon/lat points (haversine).
pub fn haversine_km(lon_a: f64, lat_a: f64, lon_b: f64, lat_b: f64) -> f64 {
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
        let d = super::haversine_km(23.3219, 42.6977, 24.7453, 42.1354);
        assert!((d - 132.0).abs() < 3.0, "{d}");
    }
}
