//! URL paths as Go's net/http treats them: the mux redirects unclean paths (`//hostname`,
//! `/a/../echo`) to their clean form, and `http.Redirect` resolves relative locations.

/// Go's `path.Clean`: one slash between elements, `.` dropped, `..` eats its parent.
pub fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".to_owned();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for elem in p.split('/') {
        match elem {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|last| *last != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            e => out.push(e),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// The path the mux serves for `p`, keeping a trailing slash (Go's `cleanPath`).
pub fn mux_clean(p: &str) -> String {
    if p.is_empty() {
        return "/".to_owned();
    }
    let rooted = if p.starts_with('/') {
        p.to_owned()
    } else {
        format!("/{p}")
    };
    let mut np = clean(&rooted);
    if rooted.ends_with('/') && np != "/" {
        np.push('/');
    }
    np
}

/// The `Location` `http.Redirect` sends for `location` asked from `request_path`: a location
/// without scheme or host is made absolute against the request's directory and cleaned.
pub fn redirect_location(request_path: &str, location: &str) -> String {
    if has_scheme(location) || location.starts_with("//") {
        return location.to_owned();
    }
    let old = if request_path.is_empty() {
        "/"
    } else {
        request_path
    };
    let mut url = if location.starts_with('/') {
        location.to_owned()
    } else {
        let dir = &old[..old.rfind('/').map_or(0, |i| i + 1)];
        format!("{dir}{location}")
    };
    let query = match url.find('?') {
        Some(i) => url.split_off(i),
        None => String::new(),
    };
    let trailing = url.ends_with('/');
    let mut cleaned = clean(&url);
    if trailing && !cleaned.ends_with('/') {
        cleaned.push('/');
    }
    cleaned + &query
}

fn has_scheme(s: &str) -> bool {
    match s.find(':') {
        Some(i) if i > 0 => {
            let scheme = &s[..i];
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_as_go() {
        for (input, want) in [
            ("", "."),
            ("/", "/"),
            ("//hostname", "/hostname"),
            ("/a/./b/../c", "/a/c"),
            ("/../x", "/x"),
            ("a/../..", ".."),
            ("abc/", "abc"),
        ] {
            assert_eq!(clean(input), want, "{input:?}");
        }
        assert_eq!(mux_clean("//hostname"), "/hostname");
        assert_eq!(mux_clean("/echo/"), "/echo/");
        assert_eq!(mux_clean("/a//"), "/a/");
    }

    #[test]
    fn redirect_locations_as_http_redirect() {
        assert_eq!(redirect_location("/redirect", "/echo?msg=a"), "/echo?msg=a");
        assert_eq!(
            redirect_location("/x/redirect", "echo?msg=a"),
            "/x/echo?msg=a"
        );
        assert_eq!(redirect_location("/redirect", "../a/./b/"), "/a/b/");
        assert_eq!(
            redirect_location("/redirect", "http://10.0.0.1:80/x"),
            "http://10.0.0.1:80/x"
        );
        assert_eq!(redirect_location("/redirect", "//host/x"), "//host/x");
    }
}
