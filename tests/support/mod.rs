//! Helpers shared by the test binaries (`mod support;` in each; this
//! directory is not a test binary of its own).

/// The ```integ blocks of spec.md, each with the line number of its opening
/// fence, the body ending in a newline.
pub fn spec_blocks(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((number, line)) = lines.next() {
        if line.trim() == "```integ" {
            let body: Vec<&str> =
                lines.by_ref().map(|(_, line)| line).take_while(|line| line.trim() != "```").collect();
            found.push((number + 1, body.join("\n") + "\n"));
        }
    }
    found
}
