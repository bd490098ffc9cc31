//! memcached's command tokenizer: words separated by spaces (only spaces: a tab is
//! part of a word), at most 23 of them kept for dispatch, as memcached's
//! `tokenize_command` with `MAX_TOKENS` 24 keeps them.

use std::ops::Range;

use super::scan::find;

/// The most words memcached's tokenizer keeps; the terminal token makes 24.
const MAX_WORDS: usize = 23;

/// The first words of a command line.
pub(crate) struct Tokens<'a> {
    line: &'a [u8],
    spans: [(usize, usize); MAX_WORDS],
    count: usize,
}

impl<'a> Tokens<'a> {
    pub(crate) fn new(line: &'a [u8]) -> Self {
        let mut tokens = Tokens {
            line,
            spans: [(0, 0); MAX_WORDS],
            count: 0,
        };
        for span in spans(line).take(MAX_WORDS) {
            tokens.spans[tokens.count] = (span.start, span.end);
            tokens.count += 1;
        }
        tokens
    }

    /// The word at `i`, empty past the last one.
    pub(crate) fn get(&self, i: usize) -> &'a [u8] {
        let line = self.line;
        self.spans[..self.count]
            .get(i)
            .map_or(&b""[..], |&(s, e)| &line[s..e])
    }

    /// Where the word at `i` lies in the line (empty past the last one).
    pub(crate) fn span(&self, i: usize) -> Range<usize> {
        self.spans[..self.count].get(i).map_or(0..0, |&(s, e)| s..e)
    }

    /// The number of words kept.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// memcached's `ntokens`: the words plus its terminal token. Its argument count
    /// checks are written in these terms.
    pub(crate) fn ntokens(&self) -> usize {
        self.count + 1
    }

    /// The last word kept.
    pub(crate) fn last(&self) -> &'a [u8] {
        self.get(self.count.wrapping_sub(1))
    }

    /// memcached's `set_noreply_maybe`: the last word is `noreply`.
    pub(crate) fn noreply(&self) -> bool {
        self.last() == b"noreply"
    }
}

/// Every word of the line, however many.
pub(crate) fn spans(line: &[u8]) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut pos = 0;
    std::iter::from_fn(move || {
        while line.get(pos) == Some(&b' ') {
            pos += 1;
        }
        if pos >= line.len() {
            return None;
        }
        let start = pos;
        pos = find(&line[start..], b' ').map_or(line.len(), |i| start + i);
        Some(start..pos)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_spaces_only() {
        let t = Tokens::new(b"  set a\tb  0 ");
        assert_eq!(t.count(), 3);
        assert_eq!(t.get(0), b"set");
        assert_eq!(t.get(1), b"a\tb");
        assert_eq!(t.get(2), b"0");
        assert_eq!(t.get(3), b"");
        assert_eq!(t.span(1), 6..9);
        assert_eq!(t.last(), b"0");
    }

    #[test]
    fn keeps_at_most_23_words() {
        let line = b"a b c d e f g h i j k l m n o p q r s t u v w x y z";
        let t = Tokens::new(line);
        assert_eq!(t.ntokens(), 24);
        assert_eq!(t.last(), b"w");
        assert_eq!(spans(line).count(), 26);
    }

    #[test]
    fn empty_line_has_no_words() {
        let t = Tokens::new(b"   ");
        assert_eq!(t.count(), 0);
        assert_eq!(t.last(), b"");
        assert!(!t.noreply());
    }
}
