//! Object keys: makes fastjson's non-standard JSON parseable by serde_json.
//!
//! fastjson writes maps with integer keys without quotes (`{"brokerAddrs":{0:"ip:port"}}`),
//! which is invalid JSON. [`quote_numeric_keys`] rewrites every such key to a quoted one
//! (`{"0":"ip:port"}`), touching nothing inside string literals. It is a single linear pass,
//! never fails and never panics: input that is not JSON at all comes out unchanged enough
//! for the JSON parser to reject it.

use std::borrow::Cow;

/// Returns `input` with unquoted numeric object keys (`-?[0-9]+` right after `{` or `,` and
/// followed by `:`, whitespace allowed around them) wrapped in double quotes. Borrowed when
/// nothing needed quoting.
pub fn quote_numeric_keys(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0; // input[..copied] is already in `out`
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                i += 1;
            }
            b'{' | b',' => {
                i += 1;
                let mut j = skip_ws(input, i);
                let key_start = j;
                if input.get(j) == Some(&b'-') {
                    j += 1;
                }
                let digits_start = j;
                while input.get(j).is_some_and(u8::is_ascii_digit) {
                    j += 1;
                }
                if j == digits_start {
                    continue;
                }
                let key_end = j;
                let colon = skip_ws(input, j);
                if input.get(colon) != Some(&b':') {
                    continue;
                }
                let buf = out.get_or_insert_with(|| Vec::with_capacity(input.len() + 16));
                buf.extend_from_slice(&input[copied..key_start]);
                buf.push(b'"');
                buf.extend_from_slice(&input[key_start..key_end]);
                buf.push(b'"');
                copied = key_end;
                i = key_end;
            }
            _ => i += 1,
        }
    }
    match out {
        None => Cow::Borrowed(input),
        Some(mut buf) => {
            buf.extend_from_slice(&input[copied..]);
            Cow::Owned(buf)
        }
    }
}

fn skip_ws(input: &[u8], mut i: usize) -> usize {
    while input
        .get(i)
        .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> String {
        String::from_utf8(quote_numeric_keys(s.as_bytes()).into_owned()).unwrap()
    }

    #[test]
    fn quotes_numeric_keys_only_outside_strings() {
        assert_eq!(
            q(r#"{"brokerAddrs":{0:"a:1",1:"b:2"}}"#),
            r#"{"brokerAddrs":{"0":"a:1","1":"b:2"}}"#
        );
        assert_eq!(q(r#"{ -12 : 3, 4 :5}"#), r#"{ "-12" : 3, "4" :5}"#);
        assert_eq!(
            q(r#"{"s":"{0:1}","t":",7:"}"#),
            r#"{"s":"{0:1}","t":",7:"}"#
        );
        assert_eq!(
            q(r#"{"e":"\"{0:1}","x":{5:6}}"#),
            r#"{"e":"\"{0:1}","x":{"5":6}}"#
        );
        assert_eq!(q(r#"[1,2,{3:4}]"#), r#"[1,2,{"3":4}]"#);
        assert_eq!(q(r#"{"0":"quoted"}"#), r#"{"0":"quoted"}"#);
    }

    #[test]
    fn borrows_when_unchanged_and_survives_garbage() {
        assert!(matches!(
            quote_numeric_keys(br#"{"a":[1,2]}"#),
            Cow::Borrowed(_)
        ));
        for g in [
            "", "{", ",", "{-", "{1", "{1 ", "\"", "{\"\\", ",-:", "{{{,,,9:",
        ] {
            let _ = quote_numeric_keys(g.as_bytes());
        }
        assert_eq!(q("{9:"), "{\"9\":");
    }
}
