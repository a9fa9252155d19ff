//! What the differential tests of `tests/golden` share.

/// `text` with the ports of loopback addresses replaced by `<port>`
/// (`http://127.0.0.1:<port>/...`): each back end has its own stand-ins.
pub fn without_ports(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("127.0.0.1:") {
        let (before, after) = rest.split_at(at + "127.0.0.1:".len());
        out.push_str(before);
        out.push_str("<port>");
        rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}
