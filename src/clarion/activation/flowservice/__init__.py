"""Flow Service API: connection and flow specs, base/source/target connections and dataflows."""
