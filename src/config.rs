//! Configuration (CONTRACT §3): TOML parsing, validation with key and line, secrets read
//! from files. It never logs or echoes secret values.
