//! Searches outputs for a planted marker.

/// Fails naming every output that carries `marker`, with some context around each find; prints
/// how much was searched otherwise.
pub fn assert_none_carries(outputs: &[(String, String)], marker: &str) {
    let leaks: Vec<String> = outputs
        .iter()
        .filter_map(|(what, text)| {
            let at = text.find(marker)?;
            Some(format!(
                "{what} carries the marker:\n…{}…",
                around(text, at)
            ))
        })
        .collect();
    assert!(leaks.is_empty(), "{}", leaks.join("\n\n"));
    let bytes: usize = outputs.iter().map(|(_, text)| text.len()).sum();
    println!(
        "searched {} outputs, {bytes} bytes: no marker",
        outputs.len()
    );
}

/// Some of `text` around the byte offset `at`.
fn around(text: &str, at: usize) -> &str {
    let mut start = at.saturating_sub(400);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (at + 200).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    &text[start..end]
}
