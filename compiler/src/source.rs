//! Source files and spans.
//!
//! In: file names and their text. Out: [`FileId`]s, [`Span`]s (byte ranges
//! within one file) and line/column lookups for rendering. The [`SourceMap`]
//! owns every file of a program, including the standard library modules; it
//! does no IO (the CLI reads files and hands their text in).

use std::ops::Range;
use std::sync::Arc;

/// Identifies one file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span { file, start: clamp_u32(start), end: clamp_u32(end.max(start)) }
    }

    /// The smallest span covering both `self` and `other` (same file).
    pub fn to(self, other: Span) -> Span {
        Span { file: self.file, start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    /// An empty span at the start of `self`.
    pub fn shrink_to_start(self) -> Span {
        Span { end: self.start, ..self }
    }

    /// An empty span at the end of `self`.
    pub fn shrink_to_end(self) -> Span {
        Span { start: self.end, ..self }
    }

    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }

    pub fn contains(self, offset: usize) -> bool {
        (self.start as usize) <= offset && offset <= (self.end as usize)
    }
}

fn clamp_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// Where a file came from: the standard library or the user's disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A module of the standard library, such as `std/prelude`.
    Std,
    /// A file the user gave or imported, by its path as written or resolved.
    User,
}

/// One source file with its line index.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub name: String,
    pub text: Arc<str>,
    pub origin: Origin,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>, origin: Origin) -> SourceFile {
        let text = text.into();
        let line_starts = line_starts(&text);
        SourceFile { name: name.into(), text, origin, line_starts }
    }

    /// The 0-based line that contains `offset`.
    pub fn line_index(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(line) => line,
            Err(next) => next.saturating_sub(1),
        }
    }

    /// The byte range of 0-based line `line`, without its line terminator.
    pub fn line_range(&self, line: usize) -> Option<Range<usize>> {
        let start = *self.line_starts.get(line)?;
        let end = self.line_starts.get(line + 1).copied().unwrap_or(self.text.len());
        let bytes = self.text.as_bytes();
        let mut trimmed_end = end;
        while trimmed_end > start && matches!(bytes[trimmed_end - 1], b'\n' | b'\r') {
            trimmed_end -= 1;
        }
        Some(start..trimmed_end)
    }

    /// 1-based line and column (in Unicode scalar values) of `offset`.
    pub fn line_column(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while offset > 0 && !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_index(offset);
        let line_start = self.line_starts.get(line).copied().unwrap_or(0);
        let column =
            self.text.get(line_start..offset).map(|prefix| prefix.chars().count()).unwrap_or(offset - line_start);
        (line + 1, column + 1)
    }

    /// Like [`SourceFile::line_column`] for the end of a range: an offset inside
    /// a character counts that whole character.
    pub fn line_column_end(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while offset < self.text.len() && !self.text.is_char_boundary(offset) {
            offset += 1;
        }
        self.line_column(offset)
    }

    pub fn line_starts(&self) -> &[usize] {
        &self.line_starts
    }
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0).chain(text.match_indices('\n').map(|(index, _)| index + 1)).collect()
}

/// Every file of a program, indexed by [`FileId`].
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    pub fn add(&mut self, file: SourceFile) -> FileId {
        let id = FileId(clamp_u32(self.files.len()));
        self.files.push(file);
        id
    }

    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    /// The id of the file called `name`, if it was added.
    pub fn find(&self, name: &str) -> Option<FileId> {
        self.files.iter().position(|file| file.name == name).map(|index| FileId(clamp_u32(index)))
    }

    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate().map(|(index, file)| (FileId(clamp_u32(index)), file))
    }

    /// The text that `span` covers, or "" if it is out of range.
    pub fn snippet(&self, span: Span) -> &str {
        self.get(span.file).and_then(|file| file.text.get(span.range())).unwrap_or("")
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let file = SourceFile::new("a.integ", "ab\nçd\n", Origin::User);
        assert_eq!(file.line_column(0), (1, 1));
        assert_eq!(file.line_column(3), (2, 1));
        assert_eq!(file.line_column(5), (2, 2));
        assert_eq!(file.line_column(100), (3, 1));
        assert_eq!(file.line_range(1), Some(3..6));
    }

    #[test]
    fn spans_join_and_shrink() {
        let a = Span::new(FileId(0), 2, 4);
        let b = Span::new(FileId(0), 6, 9);
        assert_eq!(a.to(b), Span::new(FileId(0), 2, 9));
        assert!(a.shrink_to_end().is_empty());
        assert_eq!(Span::new(FileId(0), 5, 1).len(), 0);
    }
}
