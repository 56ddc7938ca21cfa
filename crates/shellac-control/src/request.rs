//! Reading one CLI request from a connection: a line, and the here-document it announces
//! (`<< WORD`), never more than a bound. Before authentication the bound is
//! [`PRE_AUTH_LIMIT`] (a stranger cannot make the server hold more); after it,
//! [`REQUEST_LIMIT`] (room for a large `vcl.inline`). Nothing here writes.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::proto::{heredoc_marker, tokenize};

/// The most a request (line and here-document) may take before `auth`.
pub const PRE_AUTH_LIMIT: usize = 4 << 10;
/// The most a request may take once authenticated.
pub const REQUEST_LIMIT: usize = 8 << 20;

/// What came from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    /// The words of a request (a here-document is the last word).
    Words(Vec<String>),
    /// A line that does not tokenise, with why.
    Syntax(String),
}

/// Why no request could be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The request is longer than the bound; the rest was not read.
    #[error("request longer than {0} bytes")]
    TooLong(usize),
    /// The connection failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Reads the next request, at most `limit` bytes of it; `Ok(None)` at the end of the stream.
pub async fn read_request<R: AsyncBufRead + Unpin>(r: &mut R, limit: usize) -> Result<Option<Request>, ReadError> {
    let mut used = 0;
    let Some(line) = read_line(r, limit, &mut used).await? else { return Ok(None) };
    let mut words = match tokenize(&line) {
        Ok(w) => w,
        Err(e) => return Ok(Some(Request::Syntax(e))),
    };
    if let Some((at, end)) = heredoc_marker(&words) {
        let mut doc = String::new();
        // A stream that ends before the terminator ends the document.
        while let Some(l) = read_line(r, limit, &mut used).await? {
            if l == end {
                break;
            }
            doc.push_str(&l);
            doc.push('\n');
        }
        words.truncate(at);
        words.push(doc);
    }
    Ok(Some(Request::Words(words)))
}

/// One line without its `\n` (or `\r\n`), counting its bytes into `used`, which may not pass
/// `limit`.
async fn read_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    limit: usize,
    used: &mut usize,
) -> Result<Option<String>, ReadError> {
    let mut line = Vec::new();
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Ok((!line.is_empty()).then(|| text(line)));
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (buf.len(), false),
        };
        *used += take + usize::from(done);
        if *used > limit {
            return Err(ReadError::TooLong(limit));
        }
        line.extend_from_slice(&buf[..take]);
        r.consume(take + usize::from(done));
        if done {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(Some(text(line)));
        }
    }
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Option<Request> {
        Some(Request::Words(w.iter().map(|s| s.to_string()).collect()))
    }

    #[tokio::test]
    async fn lines_and_here_documents_are_requests() {
        let mut input: &[u8] = b"ping\r\nvcl.inline x << END\nvcl 4.1;\nEND\nbad \"quote\n";
        assert_eq!(read_request(&mut input, 100).await.unwrap(), words(&["ping"]));
        assert_eq!(read_request(&mut input, 100).await.unwrap(), words(&["vcl.inline", "x", "vcl 4.1;\n"]));
        assert!(matches!(read_request(&mut input, 100).await.unwrap(), Some(Request::Syntax(_))));
        assert_eq!(read_request(&mut input, 100).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_request_over_the_limit_is_refused_unread() {
        let long = vec![b'a'; 5000];
        let mut input: &[u8] = &long;
        assert!(matches!(read_request(&mut input, 4096).await, Err(ReadError::TooLong(4096))));
        // The here-document counts too.
        let mut input: &[u8] = b"vcl.inline x << END\naaaaaaaaaaaaaaaaaaaa\naaaaaaaaaaaaaaaaaaaa\nEND\n";
        assert!(matches!(read_request(&mut input, 40).await, Err(ReadError::TooLong(40))));
        let mut input: &[u8] = b"vcl.inline x << END\naaaa\nEND\n";
        assert!(read_request(&mut input, 40).await.is_ok());
    }
}
