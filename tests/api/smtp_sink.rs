//! An SMTP server for tests: accepts every message on an ephemeral loopback port and
//! keeps it for the test to read (in-process, tokio). It speaks just enough SMTP for a
//! real client (lettre): EHLO/HELO, MAIL, RCPT, DATA (with dot-unstuffing), RSET, NOOP,
//! QUIT.

#![allow(dead_code)]

use base64::Engine;
use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::Notify,
    task::JoinHandle,
};

/// A message as the sink received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and MIME body), dot-unstuffed.
    pub data: String,
}

#[derive(Default)]
struct Shared {
    messages: Mutex<Vec<Received>>,
    arrived: Notify,
}

/// The running sink. Dropping it stops listening.
pub struct SmtpSink {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the SMTP sink");
        SmtpSink::on(listener)
    }

    /// A sink on a listener the test bound already (to restart on a known port).
    pub fn on(listener: TcpListener) -> SmtpSink {
        let addr = listener.local_addr().expect("sink address");
        let shared = Arc::new(Shared::default());
        let task = tokio::spawn({
            let shared = shared.clone();
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let shared = shared.clone();
                    tokio::spawn(async move {
                        let _ = session(stream, &shared).await;
                    });
                }
            }
        });
        SmtpSink { addr, shared, task }
    }

    /// `GATEHOUSE_SMTP_URL` for this sink.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn messages(&self) -> Vec<Received> {
        self.shared.messages.lock().expect("sink lock").clone()
    }

    /// Waits (up to 15 s) until at least `count` messages arrived; answers them all.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let arrived = self.shared.arrived.notified();
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!(
                    "expected {count} message(s) within 15 s, the sink has {}: {:?}",
                    messages.len(),
                    messages.iter().map(Received::subject).collect::<Vec<_>>()
                );
            }
        }
    }

    /// Asks `app` for a password reset for `login` from a fresh browser (as the form does)
    /// and gives the token of the link that arrives here for `address`.
    pub async fn reset_token(&self, app: &crate::helpers::TestApp, login: &str, address: &str) -> String {
        let args = gatehouse::api::email::ForgotPassword {
            login: login.to_owned(),
        };
        let asked = app.send(&crate::helpers::new_client(), &args).await;
        crate::helpers::expect_status(asked, reqwest::StatusCode::OK).await;
        self.wait_for_message(address, "Reset your password")
            .await
            .token("/reset-password")
            .expect("a reset link")
    }

    /// Waits until a message to `to` with `subject` arrives, and answers it.
    pub async fn wait_for_message(&self, to: &str, subject: &str) -> Received {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let arrived = self.shared.arrived.notified();
            if let Some(found) = self
                .messages()
                .into_iter()
                .find(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)) && m.subject() == subject)
            {
                return found;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!(
                    "no message {subject:?} to {to} within 15 s; the sink has {:?}",
                    self.messages()
                        .iter()
                        .map(|m| (m.to.clone(), m.subject()))
                        .collect::<Vec<_>>()
                );
            }
        }
    }
}

async fn session(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    let mut from = String::new();
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            write
                .write_all(b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                .await?;
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            write.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("MAIL FROM:") {
            from = angle(&command[10..]);
            to.clear();
            write.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            to.push(angle(&command[8..]));
            write.write_all(b"250 OK\r\n").await?;
        } else if upper == "DATA" {
            write
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(
                    line.strip_prefix('.')
                        .filter(|_| line.starts_with(".."))
                        .unwrap_or(&line),
                );
            }
            shared.messages.lock().expect("sink lock").push(Received {
                from: from.clone(),
                to: std::mem::take(&mut to),
                data,
            });
            shared.arrived.notify_waiters();
            write.write_all(b"250 OK queued\r\n").await?;
        } else if upper == "RSET" {
            to.clear();
            write.write_all(b"250 OK\r\n").await?;
        } else if upper == "QUIT" {
            write.write_all(b"221 Bye\r\n").await?;
            return Ok(());
        } else {
            write.write_all(b"502 Command not implemented\r\n").await?;
        }
    }
}

/// `<a@b>` (with optional parameters after it) → `a@b`.
fn angle(rest: &str) -> String {
    let rest = rest.trim();
    match (rest.find('<'), rest.find('>')) {
        (Some(start), Some(end)) if start < end => rest[start + 1..end].to_owned(),
        _ => rest.split_whitespace().next().unwrap_or_default().to_owned(),
    }
}

impl Received {
    /// A header's value (unfolded), from the message's own headers.
    pub fn header(&self, name: &str) -> Option<String> {
        header_in(&self.data, name)
    }

    pub fn subject(&self) -> String {
        self.header("Subject").unwrap_or_default()
    }

    /// The decoded `text/plain` part.
    pub fn text(&self) -> String {
        part(&self.data, "text/plain").unwrap_or_default()
    }

    /// The decoded `text/html` part.
    pub fn html(&self) -> String {
        part(&self.data, "text/html").unwrap_or_default()
    }

    /// The first link in the text part whose path is `path` (`/reset-password`), as a
    /// path with its query (what a test requests from the app).
    pub fn link(&self, path: &str) -> Option<String> {
        link_in(&self.text(), path)
    }

    /// The token of that link.
    pub fn token(&self, path: &str) -> Option<String> {
        self.link(path)
            .and_then(|l| l.split_once("token=").map(|(_, t)| t.to_owned()))
    }
}

/// The first `…/path?…` URL in `text`, from its path on.
pub fn link_in(text: &str, path: &str) -> Option<String> {
    text.split_whitespace()
        .filter_map(|word| word.find("://").map(|i| &word[i + 3..]))
        .filter_map(|rest| rest.find('/').map(|i| &rest[i..]))
        .find(|p| p.starts_with(&format!("{path}?")))
        .map(str::to_owned)
}

fn header_in(block: &str, name: &str) -> Option<String> {
    let head = block.split("\r\n\r\n").next().unwrap_or(block);
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded.lines().find_map(|l| {
        let (key, value) = l.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}

/// The body of the MIME part with this content type, decoded.
fn part(data: &str, content_type: &str) -> Option<String> {
    let content = header_in(data, "Content-Type")?;
    let boundary = content
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_owned())?;
    let marker = format!("--{boundary}");
    data.split(&marker).skip(1).find_map(|section| {
        let section = section.trim_start_matches("\r\n");
        let kind = header_in(section, "Content-Type")?;
        if !kind.to_ascii_lowercase().starts_with(content_type) {
            return None;
        }
        let encoding = header_in(section, "Content-Transfer-Encoding").unwrap_or_default();
        let body = section.split_once("\r\n\r\n")?.1.trim_end_matches("\r\n");
        Some(decode(body, &encoding))
    })
}

fn decode(body: &str, encoding: &str) -> String {
    match encoding.to_ascii_lowercase().as_str() {
        "base64" => {
            let joined: String = body.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(joined)
                .expect("a base64 part");
            String::from_utf8(bytes).expect("a UTF-8 part")
        }
        "quoted-printable" => {
            let soft = body.replace("=\r\n", "");
            let mut bytes = Vec::with_capacity(soft.len());
            let raw = soft.as_bytes();
            let mut i = 0;
            while i < raw.len() {
                if raw[i] == b'=' && i + 2 < raw.len() {
                    let hex = &soft[i + 1..i + 3];
                    if let Ok(byte) = u8::from_str_radix(hex, 16) {
                        bytes.push(byte);
                        i += 3;
                        continue;
                    }
                }
                bytes.push(raw[i]);
                i += 1;
            }
            String::from_utf8(bytes).expect("a UTF-8 part")
        }
        _ => body.to_owned(),
    }
}

#[test]
fn quoted_printable_links_come_back_whole() {
    let body = "Open http://127.0.0.1:1/reset-password?token=3D=\r\nabcdef now.\r\nCaf=C3=A9";
    let text = decode(body, "quoted-printable");
    assert_eq!(
        link_in(&text, "/reset-password").as_deref(),
        Some("/reset-password?token=abcdef")
    );
    assert!(text.ends_with("Café"));
}
