//! Generates `$OUT_DIR/sync.rs` from the shop-to-CRM integration. A mistake
//! in the `.integ` file fails the build with its diagnostic (file, line,
//! column, code), as rustc would show it.

fn main() -> Result<(), integ_compiler::rust::BuildError> {
    integ_compiler::rust::Builder::new().file("../shop_to_crm/sync.integ").compile()?;
    Ok(())
}
