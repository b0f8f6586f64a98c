//! A small element tree over quick-xml, enough to read SOAP answers.
//!
//! ONVIF devices disagree on namespace prefixes (`tds:`, `trt:`, `tt:`,
//! `ns2:`, none), so elements are matched by their *local* name only. The
//! tree keeps text and attributes; it does not resolve entities beyond
//! XML's predefined ones and numeric references, which is all SOAP uses.

use quick_xml::events::Event;
use quick_xml::{Reader, XmlVersion};

/// One XML element.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Element {
    /// Local name (prefix removed).
    pub name: String,
    /// Attributes by local name.
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// Concatenated text content directly inside this element, trimmed.
    pub text: String,
}

fn local(qname: &str) -> String {
    qname.rsplit_once(':').map_or(qname, |(_, l)| l).to_string()
}

fn start(e: &quick_xml::events::BytesStart<'_>) -> Result<Element, String> {
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        let v = a.normalized_value(XmlVersion::Implicit1_0).map_err(|e| e.to_string())?;
        attrs.push((local(a.key.into_inner()), v.into_owned()));
    }
    Ok(Element { name: local(e.name().into_inner()), attrs, ..Default::default() })
}

/// Parses a whole document; its root element is returned. A document that
/// ends before its root is closed (a truncated answer) is an error.
pub fn parse(text: &str) -> Result<Element, String> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    loop {
        match reader
            .read_event()
            .map_err(|e| format!("at byte {}: {e}", reader.error_position()))?
        {
            Event::Start(e) => stack.push(start(&e)?),
            Event::Empty(e) => {
                let el = start(&e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return Ok(el),
                }
            }
            Event::End(_) => {
                let mut el = stack.pop().ok_or("closing tag without opening tag")?;
                el.text = el.text.trim().to_string();
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return Ok(el),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    let name = r.to_string();
                    top.text
                        .push_str(&resolve_ref(&name).ok_or(format!("unknown entity &{name};"))?);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t);
                }
            }
            Event::Eof => {
                return Err(match stack.last() {
                    Some(open) => format!("document ends inside <{}>", open.name),
                    None => "empty document".to_string(),
                });
            }
            _ => {}
        }
    }
}

fn resolve_ref(name: &str) -> Option<String> {
    Some(match name {
        "amp" => "&".into(),
        "lt" => "<".into(),
        "gt" => ">".into(),
        "quot" => "\"".into(),
        "apos" => "'".into(),
        n if n.starts_with("#x") => char::from_u32(u32::from_str_radix(&n[2..], 16).ok()?)?.into(),
        n if n.starts_with('#') => char::from_u32(n[1..].parse().ok()?)?.into(),
        _ => return None,
    })
}

impl Element {
    /// The first child with this local name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child with this local name.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Follows a path of local names from this element.
    pub fn path(&self, names: &[&str]) -> Option<&Element> {
        names.iter().try_fold(self, |el, n| el.child(n))
    }

    /// The text at a path, if the path exists.
    pub fn text_at(&self, names: &[&str]) -> Option<&str> {
        self.path(names).map(|e| e.text.as_str())
    }

    /// The first descendant (depth first, self included) with this name.
    pub fn find(&self, name: &str) -> Option<&Element> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Escapes text for an XML element or attribute.
pub fn escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_dropped_and_text_unescaped() {
        let doc = r#"<?xml version="1.0"?>
            <s:Envelope xmlns:s="x"><s:Body><tds:R a:k="v&amp;w">
              <tt:Name>Cam &amp; co &#x41;</tt:Name><Empty/></tds:R></s:Body></s:Envelope>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "Envelope");
        let r = root.path(&["Body", "R"]).unwrap();
        assert_eq!(r.attr("k"), Some("v&w"));
        assert_eq!(r.text_at(&["Name"]), Some("Cam & co A"));
        assert!(r.child("Empty").is_some());
        assert_eq!(root.find("Name").unwrap().text, "Cam & co A");
    }

    #[test]
    fn malformed_documents_are_errors() {
        let cases = [
            ("<a><b>text</b>", "ends inside <a>"),
            ("", "empty document"),
            ("<a></b>", ""),
            ("<a>&bogus;</a>", ""),
        ];
        for (doc, want) in cases {
            let err = parse(doc).expect_err(doc);
            assert!(err.contains(want), "{doc}: {err}");
        }
    }
}
