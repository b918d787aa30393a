//! `Sec-WebSocket-Extensions` values (RFC 6455 §9.1): `name; param; param=value, name2`.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    pub name: String,
    pub params: Vec<(String, Option<String>)>,
}

impl Extension {
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }
}

impl std::fmt::Display for Extension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        for (k, v) in &self.params {
            match v {
                Some(v) => write!(f, "; {k}={v}")?,
                None => write!(f, "; {k}")?,
            }
        }
        Ok(())
    }
}

/// Split on commas and semicolons outside quoted strings; unquote parameter values.
pub fn parse_extensions(value: &str) -> Vec<Extension> {
    split_outside_quotes(value, ',')
        .into_iter()
        .filter_map(|item| {
            let mut parts = split_outside_quotes(item, ';').into_iter();
            let name = parts.next()?.trim();
            if name.is_empty() {
                return None;
            }
            let params = parts
                .filter(|p| !p.trim().is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (
                        k.trim().to_string(),
                        Some(v.trim().trim_matches('"').to_string()),
                    ),
                    None => (p.trim().to_string(), None),
                })
                .collect();
            Some(Extension {
                name: name.to_string(),
                params,
            })
        })
        .collect()
}

fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_quotes = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            c if c == sep && !in_quotes => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chromium_offer_and_python_answer() {
        let offer = parse_extensions("permessage-deflate; client_max_window_bits");
        assert_eq!(offer[0].param("client_max_window_bits"), Some(None));
        let answer = parse_extensions(
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=\"12\"",
        );
        assert_eq!(answer[0].param("client_max_window_bits"), Some(Some("12")));
        assert_eq!(
            answer[0].to_string(),
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
        );
    }

    #[test]
    fn several_offers() {
        let offers = parse_extensions("permessage-deflate; client_no_context_takeover, permessage-deflate, x-webkit-deflate-frame");
        assert_eq!(offers.len(), 3);
        assert_eq!(offers[2].name, "x-webkit-deflate-frame");
        assert!(parse_extensions("").is_empty());
    }
}
