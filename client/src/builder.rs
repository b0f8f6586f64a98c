//! [`ClientBuilder`]: how a program connects to a server (base URL, bearer
//! token, timeouts, user agent, TLS roots), set once and carried by the
//! generated [`Client`], its hand-written operations and its event streams.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

use crate::{Client, Error, types};

/// The default bound on connecting and on each request, as [`Client::new`] has it.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// Configures a [`Client`].
///
/// ```no_run
/// # async fn demo() -> Result<(), rt_client::Error<rt_client::types::Error>> {
/// use std::time::Duration;
/// let client = rt_client::ClientBuilder::new("https://rt.example.com:3546")
///     .bearer_token("s3cret")
///     .timeout(Duration::from_secs(5))
///     .build()?;
/// let instances = client.list_instances().await?.into_inner();
/// # Ok(()) }
/// ```
///
/// The token goes in an `Authorization: Bearer` header on every request,
/// the generated operations, the hand-written ones and
/// [`Client::event_stream`] alike.
pub struct ClientBuilder {
    baseurl: String,
    token: Option<String>,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: String,
    roots: Vec<reqwest::Certificate>,
    only_given_roots: bool,
}

/// The token is shown masked: a builder printed into a log leaks nothing.
impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("baseurl", &self.baseurl)
            .field("token", &self.token.as_ref().map(|_| "********"))
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("user_agent", &self.user_agent)
            .field("roots", &self.roots.len())
            .field("only_given_roots", &self.only_given_roots)
            .finish()
    }
}

impl ClientBuilder {
    /// A client of the server at `baseurl` (`http://127.0.0.1:3546`: scheme,
    /// host, port, and a path stem if the server sits under one).
    pub fn new(baseurl: impl Into<String>) -> Self {
        Self {
            baseurl: baseurl.into(),
            token: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_TIMEOUT,
            user_agent: format!("rt-client/{}", env!("CARGO_PKG_VERSION")),
            roots: Vec::new(),
            only_given_roots: false,
        }
    }

    /// Send `Authorization: Bearer <token>` with every request.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The bound on each request, from sending it to reading the whole
    /// answer (default 15 s). Event streams, which stay open, are bound by
    /// [`ClientBuilder::connect_timeout`] only.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The bound on opening a connection (default 15 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The `User-Agent` header (default `rt-client/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Trust this root certificate for `https://` servers, besides the
    /// system's (a private CA, or a server's self-signed certificate).
    /// Read one with [`crate::Certificate::from_pem`].
    pub fn tls_root_certificate(mut self, certificate: reqwest::Certificate) -> Self {
        self.roots.push(certificate);
        self
    }

    /// Trust only the certificates given with
    /// [`ClientBuilder::tls_root_certificate`], not the system's.
    pub fn tls_only_given_roots(mut self) -> Self {
        self.only_given_roots = true;
        self
    }

    /// The client. Fails with [`Error::InvalidRequest`] when the token is
    /// not a valid header value or the TLS settings cannot be used.
    // The generated operations' error type (large, as theirs is), so one `?`
    // serves both.
    #[allow(clippy::result_large_err)]
    pub fn build(self) -> Result<Client, Error<types::Error>> {
        let mut headers = HeaderMap::new();
        if let Some(token) = &self.token {
            let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                Error::InvalidRequest("the bearer token is not a valid header value".into())
            })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let mut http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(self.user_agent)
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout);
        http = if self.only_given_roots {
            http.tls_certs_only(self.roots)
        } else {
            http.tls_certs_merge(self.roots)
        };
        let http = http.build().map_err(|e| {
            Error::InvalidRequest(format!("building the HTTP client: {}", crate::error_chain(&e)))
        })?;
        Ok(Client::new_with_client(&self.baseurl, http))
    }
}

impl Client {
    /// A [`ClientBuilder`] for the server at `baseurl`.
    pub fn builder(baseurl: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(baseurl)
    }
}

#[cfg(test)]
mod tests {
    use super::ClientBuilder;

    #[test]
    fn debug_output_masks_the_token() {
        let shown =
            format!("{:?}", ClientBuilder::new("http://127.0.0.1:3546").bearer_token("s3cret"));
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("********"), "{shown}");
    }
}
