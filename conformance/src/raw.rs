//! A minimal HTTP/1.1 client over one TCP connection, for what reqwest
//! hides: requests with no `Content-Length` at all, and several requests
//! on one connection that must stay open between them.

use std::io;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// An answer read off the wire.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The server said it will close the connection after this answer.
    pub fn closes(&self) -> bool {
        self.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// One connection to the server.
#[derive(Debug)]
pub struct Conn {
    io: BufReader<TcpStream>,
    /// `host:port`, for the `Host` header.
    pub authority: String,
    /// `Authorization: Bearer` with the run's token, when it has one.
    authorization: Option<String>,
}

impl Conn {
    /// Connects to the server of `base_url` (`http://` only); every request
    /// carries `token` as `Authorization: Bearer` when given.
    pub async fn connect(base_url: &str, token: Option<&str>) -> io::Result<Self> {
        let authority = base_url
            .strip_prefix("http://")
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::Unsupported, "raw checks need an http:// base URL")
            })?
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let stream = TcpStream::connect(&authority).await?;
        stream.set_nodelay(true)?;
        let authorization = token.map(|t| format!("\r\nAuthorization: Bearer {t}"));
        Ok(Self { io: BufReader::new(stream), authority, authorization })
    }

    /// Writes `head` (request line and headers, without the blank line; the
    /// `Host` header, and `Authorization` with a token, are added) and
    /// `body`, then reads one answer.
    pub async fn exchange(&mut self, head: &str, body: &[u8]) -> io::Result<RawResponse> {
        let authorization = self.authorization.as_deref().unwrap_or_default();
        let mut request =
            format!("{head}\r\nHost: {}{authorization}\r\n\r\n", self.authority).into_bytes();
        request.extend_from_slice(body);
        self.io.get_mut().write_all(&request).await?;
        self.read_response().await
    }

    async fn read_line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.io.read_line(&mut line).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }

    async fn read_response(&mut self) -> io::Result<RawResponse> {
        let status_line = self.read_line().await?;
        let status =
            status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(
                || {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("bad status line {status_line:?}"),
                    )
                },
            )?;
        let mut headers = Vec::new();
        loop {
            let line = self.read_line().await?;
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let mut response = RawResponse { status, headers, body: Vec::new() };
        if status == 204 || status == 304 || (100..200).contains(&status) {
            return Ok(response);
        }
        if response
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
        {
            loop {
                let size_line = self.read_line().await?;
                let size =
                    usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                        .map_err(|_| {
                            io::Error::new(
                                io::ErrorKind::InvalidData,
                                format!("bad chunk size {size_line:?}"),
                            )
                        })?;
                if size == 0 {
                    // Trailers, up to the blank line.
                    while !self.read_line().await?.is_empty() {}
                    break;
                }
                let mut chunk = vec![0; size];
                self.io.read_exact(&mut chunk).await?;
                response.body.extend_from_slice(&chunk);
                self.read_line().await?;
            }
        } else if let Some(len) =
            response.header("content-length").and_then(|v| v.parse::<usize>().ok())
        {
            response.body = vec![0; len];
            self.io.read_exact(&mut response.body).await?;
        } else {
            self.io.read_to_end(&mut response.body).await?;
        }
        Ok(response)
    }
}
