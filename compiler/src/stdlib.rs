//! The standard library, embedded in the compiler.
//!
//! The modules are `.integ` files under `stdlib/` at the repository root:
//! natives are declared there (and implemented in integ-runtime) and checked
//! like user code. `std/prelude` is imported into every program.

/// The module every program imports implicitly.
pub const PRELUDE: &str = "std/prelude";

/// Every module: its import name and its source.
pub const MODULES: &[(&str, &str)] = &[
    ("std/prelude", include_str!("../../stdlib/prelude.integ")),
    ("std/hash", include_str!("../../stdlib/hash.integ")),
    ("std/encoding", include_str!("../../stdlib/encoding.integ")),
    ("std/uuid", include_str!("../../stdlib/uuid.integ")),
];

/// The source of module `name` (such as `std/hash`).
pub fn source(name: &str) -> Option<&'static str> {
    MODULES.iter().find(|(module, _)| *module == name).map(|(_, text)| *text)
}
