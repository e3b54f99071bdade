//! One HTTP/1.1 connection, driven by the task that sends on it: the request written with one
//! write, the answer read and parsed ([`httparse`]) in the same task. No connection task, no
//! channel between the sender and the socket: a send costs its two system calls and little else.
//!
//! What the answer may be, as RFC 9112 allows: a `Content-Length` body, a chunked body (with
//! trailers), or a body that ends with the connection; `1xx` answers skipped; `Connection: close`
//! and HTTP/1.0 honoured (the connection is then not reused). Heads over [`MAX_HEAD`] and bodies
//! over [`MAX_BODY`] are refused rather than buffered.

use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::SystemTime;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// The longest answer head accepted.
pub const MAX_HEAD: usize = 64 * 1024;

/// The longest answer body accepted (WeChat's answers are a few hundred bytes; a template list
/// a few hundred kilobytes).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// Headers read from an answer at most.
const MAX_HEADERS: usize = 64;

/// A byte stream a connection runs on: TCP, or TLS over TCP.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Why an exchange failed, and whether the request may have reached the server.
#[derive(Debug)]
pub enum H1Error {
    /// Nothing of the request was accepted by the connection: it may go out on another one.
    Unsent(std::io::Error),
    /// The request was written (it may have been acted on); the answer is missing or broken.
    Answer(String),
}

/// A request's head: what goes before its body.
#[derive(Debug)]
pub struct Head<'a> {
    /// `GET` or `POST`.
    pub method: &'a str,
    /// The request target: a path and query, or an absolute URL for a proxy.
    pub target: &'a str,
    /// Header lines, name and value, sent as given.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// Keep the answer's `Date` header (the probe checks the clock with it).
    pub want_date: bool,
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body (chunked bodies decoded).
    pub body: Bytes,
    /// The `Date` header, when asked for and valid.
    pub date: Option<SystemTime>,
}

/// One connection, with its read buffer and the scratch buffer requests are written from.
pub struct Conn {
    io: Box<dyn Stream>,
    buf: BytesMut,
    out: Vec<u8>,
    /// The connection may carry another request.
    reusable: bool,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").field("reusable", &self.reusable).finish_non_exhaustive()
    }
}

/// The framing of an answer's body.
enum Framing {
    None,
    Length(usize),
    Chunked,
    UntilClose,
}

impl Conn {
    /// A connection over `io`, ready for its first request.
    pub fn new(io: impl Stream + 'static) -> Self {
        Self { io: Box::new(io), buf: BytesMut::with_capacity(4096), out: Vec::with_capacity(1024), reusable: true }
    }

    /// Whether the connection may carry another request: the last answer left it open and the
    /// server has not closed it since (nor sent anything unasked). Costs no system call when
    /// nothing has arrived.
    pub fn is_reusable(&mut self) -> bool {
        if !self.reusable || !self.buf.is_empty() {
            return false;
        }
        // A read that must not wait: data or an end here means the server closed the connection
        // (or broke the protocol) while it was idle.
        let mut cx = Context::from_waker(Waker::noop());
        let mut probe = [0u8; 1];
        let mut read = ReadBuf::new(&mut probe);
        match Pin::new(&mut self.io).poll_read(&mut cx, &mut read) {
            Poll::Pending => true,
            Poll::Ready(_) => {
                self.reusable = false;
                false
            }
        }
    }

    /// Whether the last answer left the connection open (no system call; see
    /// [`Conn::is_reusable`] before reusing it).
    pub fn kept_open(&self) -> bool {
        self.reusable && self.buf.is_empty()
    }

    /// Send one request and read its answer whole.
    pub async fn request(&mut self, head: &Head<'_>, body: &[u8]) -> Result<Answer, H1Error> {
        self.write_request(head, body).await?;
        let answer = self.read_answer(head.want_date).await;
        if answer.is_err() {
            self.reusable = false;
        }
        answer
    }

    async fn write_request(&mut self, head: &Head<'_>, body: &[u8]) -> Result<(), H1Error> {
        let out = &mut self.out;
        out.clear();
        out.extend_from_slice(head.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(head.target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in head.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        if !body.is_empty() || head.method == "POST" {
            out.extend_from_slice(b"Content-Length: ");
            out.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        // One write in the usual case. A failure before the last byte left means the server has
        // no whole request (its Content-Length is not met): nothing can have been acted on.
        let mut written = self.io.write_all(&self.out).await;
        if written.is_ok() {
            written = self.io.flush().await;
        }
        written.map_err(|e| {
            self.reusable = false;
            H1Error::Unsent(e)
        })
    }

    async fn read_answer(&mut self, want_date: bool) -> Result<Answer, H1Error> {
        loop {
            let (status, framing, date, consumed) = loop {
                if let Some(parsed) = self.parse_head(want_date)? {
                    break parsed;
                }
                if self.buf.len() > MAX_HEAD {
                    return Err(H1Error::Answer(format!("the answer's head is longer than {MAX_HEAD} bytes")));
                }
                if self.fill().await? == 0 {
                    return Err(H1Error::Answer(if self.buf.is_empty() {
                        "the server closed the connection without answering".into()
                    } else {
                        "the server closed the connection in the middle of its answer".into()
                    }));
                }
            };
            self.buf.advance(consumed);
            if (100..200).contains(&status) {
                continue; // 100 Continue and the like: the real answer follows
            }
            let body = match framing {
                Framing::None => Bytes::new(),
                Framing::Length(n) => self.read_exact_body(n).await?,
                Framing::Chunked => self.read_chunked().await?,
                Framing::UntilClose => {
                    self.reusable = false;
                    self.read_to_end().await?
                }
            };
            return Ok(Answer { status, body, date });
        }
    }

    /// The answer's head, when the buffer holds all of it: status, framing, date, its length.
    #[allow(clippy::type_complexity)]
    fn parse_head(&mut self, want_date: bool) -> Result<Option<(u16, Framing, Option<SystemTime>, usize)>, H1Error> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        let consumed = match response.parse(&self.buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(H1Error::Answer(format!("the answer is not HTTP/1.1 ({e})"))),
        };
        let status = response.code.unwrap_or(0);
        let mut keep_alive = response.version == Some(1);
        let mut length = None;
        let mut chunked = false;
        let mut date = None;
        for h in response.headers.iter() {
            let name = h.name;
            if name.eq_ignore_ascii_case("content-length") {
                let n = std::str::from_utf8(h.value).ok().and_then(|v| v.trim().parse::<usize>().ok());
                match (n, length) {
                    (Some(n), None) => length = Some(n),
                    (Some(n), Some(m)) if n == m => {}
                    _ => return Err(H1Error::Answer("the answer's Content-Length is not valid".into())),
                }
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = h
                    .value
                    .rsplit(|b| *b == b',')
                    .next()
                    .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
                if !chunked {
                    return Err(H1Error::Answer("the answer's Transfer-Encoding is not chunked".into()));
                }
            } else if name.eq_ignore_ascii_case("connection") {
                for token in h.value.split(|b| *b == b',') {
                    let token = token.trim_ascii();
                    if token.eq_ignore_ascii_case(b"close") {
                        keep_alive = false;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        keep_alive = true;
                    }
                }
            } else if want_date && name.eq_ignore_ascii_case("date") {
                date = std::str::from_utf8(h.value).ok().and_then(|d| httpdate::parse_http_date(d).ok());
            }
        }
        if !keep_alive {
            self.reusable = false;
        }
        let framing = if (100..200).contains(&status) || status == 204 || status == 304 {
            Framing::None
        } else if chunked {
            Framing::Chunked
        } else if let Some(n) = length {
            if n > MAX_BODY {
                return Err(H1Error::Answer(format!("the answer's body of {n} bytes is over {MAX_BODY}")));
            }
            Framing::Length(n)
        } else {
            Framing::UntilClose
        };
        Ok(Some((status, framing, date, consumed)))
    }

    /// Read more into the buffer; 0 at the end of the stream.
    async fn fill(&mut self) -> Result<usize, H1Error> {
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(8 * 1024);
        }
        self.io.read_buf(&mut self.buf).await.map_err(|e| {
            self.reusable = false;
            H1Error::Answer(format!("connection broke while reading the answer: {e}"))
        })
    }

    async fn read_exact_body(&mut self, n: usize) -> Result<Bytes, H1Error> {
        while self.buf.len() < n {
            if n > self.buf.capacity() {
                self.buf.reserve(n - self.buf.len());
            }
            if self.fill().await? == 0 {
                return Err(cut_short());
            }
        }
        // Copied out, not split off: answers are small, and a split would make the buffer shared
        // (reference counts on every answer, and a new buffer whenever one is still held).
        let body = Bytes::copy_from_slice(&self.buf[..n]);
        self.buf.advance(n);
        Ok(body)
    }

    async fn read_to_end(&mut self) -> Result<Bytes, H1Error> {
        while self.fill().await? > 0 {
            if self.buf.len() > MAX_BODY {
                return Err(H1Error::Answer(format!("the answer's body is over {MAX_BODY} bytes")));
            }
        }
        Ok(self.buf.split().freeze())
    }

    async fn read_chunked(&mut self) -> Result<Bytes, H1Error> {
        let mut body = BytesMut::new();
        loop {
            // The size line.
            let (size, line) = loop {
                match httparse::parse_chunk_size(&self.buf) {
                    Ok(httparse::Status::Complete((line, size))) => break (size, line),
                    Ok(httparse::Status::Partial) => {
                        if self.buf.len() > MAX_HEAD {
                            return Err(H1Error::Answer("a chunk's size line is too long".into()));
                        }
                        if self.fill().await? == 0 {
                            return Err(cut_short());
                        }
                    }
                    Err(_) => return Err(H1Error::Answer("the answer's chunked body is not valid".into())),
                }
            };
            self.buf.advance(line);
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            if size == 0 {
                return self.read_trailers().await.map(|()| body.freeze());
            }
            if body.len().saturating_add(size) > MAX_BODY {
                return Err(H1Error::Answer(format!("the answer's body is over {MAX_BODY} bytes")));
            }
            // The data and its CRLF.
            while self.buf.len() < size + 2 {
                if self.fill().await? == 0 {
                    return Err(cut_short());
                }
            }
            body.extend_from_slice(&self.buf[..size]);
            if &self.buf[size..size + 2] != b"\r\n" {
                return Err(H1Error::Answer("the answer's chunked body is not valid".into()));
            }
            self.buf.advance(size + 2);
        }
    }

    /// Trailer lines after the last chunk, up to the empty line: read and dropped.
    async fn read_trailers(&mut self) -> Result<(), H1Error> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                self.buf.advance(end + 2);
                if end == 0 {
                    return Ok(());
                }
                continue;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(H1Error::Answer("the answer's trailers are too long".into()));
            }
            if self.fill().await? == 0 {
                return Err(cut_short());
            }
        }
    }
}

fn cut_short() -> H1Error {
    H1Error::Answer("the server closed the connection in the middle of its answer".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt};

    /// A connection to a peer that sends `answer` (in pieces of `piece` bytes) after reading a
    /// whole request; returns what the peer read.
    async fn exchange(answer: &'static [u8], piece: usize, body: &[u8]) -> (Result<Answer, H1Error>, Vec<u8>, Conn) {
        let (client, mut server) = duplex(64 * 1024);
        let peer = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0u8; 1024];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = server.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            for part in answer.chunks(piece) {
                server.write_all(part).await.unwrap();
                tokio::task::yield_now().await;
            }
            got // the peer closes its end here
        });
        let mut conn = Conn::new(client);
        let head = Head {
            method: "POST",
            target: "/cgi-bin/message/template/send?access_token=T",
            headers: &[("Host", b"api.example.com")],
            want_date: true,
        };
        let result = conn.request(&head, body).await;
        let got = peer.await.unwrap();
        (result, got, conn)
    }

    #[tokio::test]
    async fn writes_one_request_and_reads_a_length_answer() {
        for piece in [1, 7, 4096] {
            let answer =
                b"HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\ncontent-length: 13\r\n\r\n{\"errcode\":0}";
            let (result, got, _) = exchange(answer, piece, b"{\"a\":1}").await;
            let answer = result.unwrap();
            assert_eq!((answer.status, &answer.body[..]), (200, &b"{\"errcode\":0}"[..]), "piece {piece}");
            assert_eq!(answer.date, Some(httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap()));
            assert_eq!(
                String::from_utf8(got).unwrap(),
                "POST /cgi-bin/message/template/send?access_token=T HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 7\r\n\r\n{\"a\":1}"
            );
        }
    }

    #[tokio::test]
    async fn reads_chunked_answers_with_trailers_and_skips_1xx() {
        let answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\n{\"err\r\n8\r\ncode\":0}\r\n0\r\nX-Trailer: 1\r\n\r\n";
        for piece in [1, 3, 4096] {
            let (result, _, mut conn) = exchange(answer, piece, b"{}").await;
            let answer = result.unwrap();
            assert_eq!(&answer.body[..], b"{\"errcode\":0}", "piece {piece}");
            assert!(conn.reusable, "a chunked answer read whole leaves the connection open");
            // The peer has gone since: the idle check sees the end and gives the connection up.
            tokio::task::yield_now().await;
            assert!(!conn.is_reusable());
        }
    }

    #[tokio::test]
    async fn close_and_http10_answers_are_not_reused_and_bodies_may_end_with_the_connection() {
        let (result, _, conn) =
            exchange(b"HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 2\r\n\r\nok", 4096, b"").await;
        assert_eq!(&result.unwrap().body[..], b"ok");
        assert!(!conn.reusable);
        let (result, _, conn) = exchange(b"HTTP/1.0 200 OK\r\n\r\nuntil the end", 4, b"").await;
        assert_eq!(&result.unwrap().body[..], b"until the end");
        assert!(!conn.reusable);
    }

    #[tokio::test]
    async fn broken_answers_are_errors_that_say_what_broke() {
        let cases: [(&[u8], &str); 5] = [
            (b"", "without answering"),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort", "in the middle"),
            (b"<html>gateway</html>\r\n\r\n", "not HTTP/1.1"),
            (b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n", "Content-Length"),
            (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", "chunked body"),
        ];
        for (answer, words) in cases {
            let (result, _, conn) = exchange(answer, 4096, b"{}").await;
            match result {
                Err(H1Error::Answer(message)) => assert!(message.contains(words), "{message:?} lacks {words:?}"),
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(answer)),
            }
            assert!(!conn.reusable);
        }
    }

    #[tokio::test]
    async fn a_connection_whose_peer_is_gone_reports_the_request_unsent() {
        let (client, server) = duplex(1024);
        drop(server);
        let mut conn = Conn::new(client);
        let head = Head { method: "GET", target: "/", headers: &[], want_date: false };
        assert!(matches!(conn.request(&head, b"").await, Err(H1Error::Unsent(_))));
        assert!(!conn.is_reusable());
    }
}
