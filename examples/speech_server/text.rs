//! Text preparation: whitespace and control characters tidied before the engine and the cache
//! see the text, and sentence splitting for streamed responses.

/// Collapses every run of whitespace or control characters into one space and trims the ends,
/// so that texts differing only in spacing share a cache entry.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    out
}

/// Splits normalized text after sentence-ending punctuation followed by a space. Every piece is
/// non-empty, and the pieces joined with spaces give the text back.
pub fn sentences(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut previous = None;
    for (at, c) in text.char_indices() {
        if c == ' ' && matches!(previous, Some('.' | '!' | '?' | ';' | ':')) {
            pieces.push(&text[start..at]);
            start = at + 1;
        }
        previous = Some(c);
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces.retain(|p| !p.is_empty());
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_collapses_spacing_and_controls() {
        assert_eq!(
            normalize("  Hello,\n\tworld.\u{7}  Again "),
            "Hello, world. Again"
        );
        assert_eq!(normalize(" \n\t "), "");
    }

    #[test]
    fn sentences_split_after_terminal_punctuation_only() {
        let text = "One. Two? Three! Version 1.5 works: yes";
        assert_eq!(
            sentences(text),
            ["One.", "Two?", "Three!", "Version 1.5 works:", "yes"]
        );
        assert_eq!(sentences("No stop"), ["No stop"]);
    }
}
