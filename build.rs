//! The language catalogues are compiled into the binary (rust-i18n's `i18n!` reads them while
//! compiling): a change to one rebuilds the crate.

fn main() {
    println!("cargo:rerun-if-changed=locales");
}
