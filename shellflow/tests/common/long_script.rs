//! The benchmark's 1,000-line entrypoint (`benches/analyze.rs`), shared with the tests that
//! need the same script (`tests/fast_parse.rs`).

/// A long entrypoint in the style of the official images: the postgres entrypoint (helpers,
/// `file_env`, a root check, a re-exec under gosu) with side work before its final dispatch,
/// cycling through the idioms of `shellflow-idioms.md` until the script has `lines` lines.
pub fn long_script(lines: usize) -> String {
    let main = include_str!("../corpus/postgres-entrypoint.sh");
    // Filler runs before the final dispatch, so every line is analysed (twice: the script
    // re-executes itself under gosu).
    let (body, dispatch) = main.split_at(main.rfind("if ! _is_sourced").unwrap_or(main.len()));
    let mut s = String::from(body);
    let mut i = 0;
    while s.lines().count() + dispatch.lines().count() < lines {
        s.push_str(&filler(i));
        i += 1;
    }
    s.push_str(dispatch);
    s
}

/// One block of side work, varied by `i`: defaults and `local`, indirection, `case` on
/// globs, arrays, `[[ ]]` and file tests, a heredoc, a pipeline loop, `command -v`.
fn filler(i: usize) -> String {
    match i % 6 {
        0 => format!(
            "helper_{i}() {{\n\tlocal v=\"${{1:-default_{i}}}\"\n\t: \"${{CFG_{i}:=$v}}\"\n\tif [ \"$CFG_{i}\" = 'x' ]; then echo x; fi\n\tmkdir -p \"/tmp/d{i}\"\n}}\nhelper_{i} value\n"
        ),
        1 => format!(
            "var_{i}=\"OPT_{i}\"\nfile_{i}=\"${{var_{i}}}_FILE\"\nval_{i}=\"${{!var_{i}:-fallback}}\"\nif [ -n \"${{!file_{i}:-}}\" ]; then val_{i}=\"$(cat \"${{!file_{i}}}\")\"; fi\nexport OPT_{i}=\"$val_{i}\"\n"
        ),
        2 => format!(
            "mode_{i}=\"${{MODE_{i}:-server-{i}}}\"\ncase \"$mode_{i}\" in\n\tclient-*|cli) role_{i}=client ;;\n\tserver-*) role_{i}=server ;;\n\t*) role_{i}=other ;;\nesac\n[ \"$role_{i}\" = server ] && echo \"role $role_{i}\"\n"
        ),
        3 => format!(
            "args_{i}=( --port \"${{PORT_{i}:-80{i}}}\" )\nargs_{i}+=( --name \"n{i}\" )\nif [[ \"${{args_{i}[1]}}\" == 80* ]] && [ -x /usr/local/bin/postgres ]; then\n\tn_{i}=${{#args_{i}[@]}}\nfi\nunset args_{i}\n"
        ),
        4 => format!(
            "cat > \"/tmp/conf.{i}\" <<EOF\nlisten ${{LISTEN_{i}:-0.0.0.0}}\nname conf-{i}\nEOF\nchmod 0644 \"/tmp/conf.{i}\"\n"
        ),
        _ => format!(
            "if command -v postgres > /dev/null; then have_{i}=1; else have_{i}=0; fi\nprintf '%s\\n' a b | while read -r line; do echo \"$line\"; done\nwhich_{i}=\"$(basename /usr/local/bin/postgres)\"\n"
        ),
    }
}
