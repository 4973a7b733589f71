use livesite_core::notify::{Channel, Notification};
use livesite_core::ports::{Notifier, NotifyError};
use std::io::Write;
use std::sync::Mutex;

/// Shows each notification in full, as it would be sent: the page text, or
/// the email's headers and body. Output goes to any writer (stdout by default).
pub struct ConsoleNotifier {
    out: Mutex<Box<dyn Write + Send>>,
}

impl Default for ConsoleNotifier {
    fn default() -> Self {
        Self::new(Box::new(std::io::stdout()))
    }
}

impl ConsoleNotifier {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }

    pub fn format(n: &Notification) -> String {
        let list = |v: &[livesite_core::EmailAddress]| {
            v.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
        };
        match n.channel {
            Channel::Page => format!(
                "── PAGE (SNS) ── {key}\n   {text}\n",
                key = n.key,
                text = n.text
            ),
            Channel::Email => {
                let mut s = format!("── EMAIL (SES) ── {}\n", n.key);
                if let Some(from) = &n.from {
                    s += &format!("   From: {from}\n");
                }
                s += &format!("   To: {}\n", list(&n.to));
                if !n.cc.is_empty() {
                    s += &format!("   Cc: {}\n", list(&n.cc));
                }
                s += &format!("   Subject: {}\n\n", n.subject);
                for line in n.text.lines() {
                    s += &format!("   {line}\n");
                }
                s
            }
        }
    }
}

impl Notifier for ConsoleNotifier {
    async fn deliver(&self, n: &Notification) -> Result<(), NotifyError> {
        let text = Self::format(n);
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        out.write_all(text.as_bytes())
            .and_then(|_| out.flush())
            .map_err(|e| NotifyError {
                key: n.key.clone(),
                source: Box::new(e),
            })
    }
}
