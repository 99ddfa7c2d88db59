//! `source`/`.` of files in the image (bounded depth, cycles detected) and `eval` of known
//! strings: both run parsed code in the current path's state.
//!
//! A sourced file whose name is unknown, or that the image lacks, is a diagnostic; its
//! content is never guessed. An `eval` string with unknown pieces runs when a known command
//! word leads it: each unknown piece becomes a variable reference of its own, so it stays
//! one unknown word (`eval exec su-exec neo4j "$cmd"` execs su-exec with an unknown last
//! word). A string that is unknown from its first word is not run.

use std::rc::Rc;

use crate::memfs::normalize;
use crate::parse::ast;
use crate::value::{Part, Val};

use super::state::{Frame, State, Status};
use super::{Flow, Interp, Paths};

impl Interp<'_> {
    pub(super) fn builtin_source(
        &mut self,
        mut st: State,
        rest: &[Val],
        location: Option<crate::api::Location>,
    ) -> Paths {
        let Some(target) = rest.first().and_then(Val::known) else {
            self.diag(format!("{}: sources a file whose name is unknown", st.file));
            st.status = Status::Unknown("sourced file unknown".into());
            return vec![(st, Flow::Normal)];
        };
        let path = if target.contains('/') {
            normalize(&if target.starts_with('/') {
                target.clone()
            } else {
                format!("{}/{target}", st.cwd)
            })
        } else {
            let p = st
                .get("PATH")
                .and_then(|v| v.scalar().known())
                .unwrap_or_default();
            crate::lookup_path(self.fs, &p, &target, false)
                .unwrap_or_else(|| normalize(&format!("{}/{target}", st.cwd)))
        };
        if st.depth >= self.limits.max_source_depth
            || st
                .frames
                .iter()
                .any(|f| f.name == "source" && *f.file == *path)
            || *st.file == *path
        {
            self.cap(format!(
                "{}: source of {path} skipped (cycle or depth {} reached)",
                st.file, self.limits.max_source_depth
            ));
            st.status = Status::Unknown("source skipped".into());
            return vec![(st, Flow::Normal)];
        }
        let prog = match self.read_script(&path) {
            Ok(p) => p,
            Err(msg) => {
                self.diag(msg);
                st.status = Status::FAIL;
                return vec![(st, Flow::Normal)];
            }
        };
        st.reason(format!("sources {path}"), location);
        let saved_pos = (rest.len() > 1)
            .then(|| std::mem::replace(&mut st.positionals, Rc::new(rest[1..].to_vec())));
        let saved_file = std::mem::replace(&mut st.file, std::sync::Arc::from(path.as_str()));
        Rc::make_mut(&mut st.frames).push(Frame {
            name: "source".into(),
            file: std::sync::Arc::clone(&saved_file),
        });
        st.depth += 1;
        let mut paths = vec![(st, Flow::Normal)];
        for cmd in &prog.complete_commands {
            paths = self.seq(paths, |me, s| me.run_list(s, cmd));
        }
        paths
            .into_iter()
            .map(|(mut s, flow)| {
                if flow == Flow::Exit {
                    return (s, flow);
                }
                s.depth -= 1;
                Rc::make_mut(&mut s.frames).pop();
                s.file = saved_file.clone();
                if let Some(p) = &saved_pos {
                    s.positionals = p.clone();
                }
                (
                    s,
                    if flow == Flow::Return {
                        Flow::Normal
                    } else {
                        flow
                    },
                )
            })
            .collect()
    }

    /// Reads and parses a script from the image.
    pub(crate) fn read_script(&mut self, path: &str) -> Result<Rc<ast::Program>, String> {
        if let Some(meta) = self.fs.stat(path) {
            if meta.size > self.limits.max_file_bytes {
                return Err(format!("{path}: {} bytes exceed the read limit", meta.size));
            }
        }
        let bytes = self.fs.read_file(path).map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&bytes);
        let text = text.into_owned();
        let prog = self.parse_cached(path, &text).map_err(|e| e.to_string())?;
        self.keep_text(path, text.into());
        Ok(prog)
    }

    pub(super) fn builtin_eval(
        &mut self,
        mut st: State,
        rest: &[Val],
        location: Option<crate::api::Location>,
    ) -> Paths {
        let joined = super::expand::join(rest, " ");
        let mut holders: Vec<String> = Vec::new();
        let text = match joined.known() {
            Some(text) => text,
            None => match with_placeholders(&joined) {
                // `eval exec su-exec neo4j "$cmd"`, `eval exec $JAVA $OPTS "$@"`: the known
                // words run as written, each unknown piece as a variable holding it.
                Some((text, values)) => {
                    self.diag(format!(
                        "{}: eval of a string that is partly unknown (run with its unknown \
                         pieces as unknown words): {joined}",
                        st.file
                    ));
                    st.reason(
                        format!(
                            "`eval` of a partly unknown string runs its known words, each \
                             unknown piece as an unknown word: {joined}"
                        ),
                        location,
                    );
                    for (name, v) in values {
                        st.set(&name, v);
                        holders.push(name);
                    }
                    text
                }
                None => {
                    self.diag(format!(
                        "{}: eval of a string that is not known: {joined}",
                        st.file
                    ));
                    st.status = Status::Unknown("eval of an unknown string".into());
                    return vec![(st, Flow::Normal)];
                }
            },
        };
        let mut paths = self.eval_text(st, &text);
        for (s, _) in paths.iter_mut() {
            for name in &holders {
                s.vars.remove(name);
            }
        }
        paths
    }

    /// Runs `text` (a known `eval` string) in the current path.
    fn eval_text(&mut self, mut st: State, text: &str) -> Paths {
        if st.depth >= self.limits.max_source_depth {
            self.cap(format!(
                "{}: eval nested deeper than {}",
                st.file, self.limits.max_source_depth
            ));
            return vec![(st, Flow::Normal)];
        }
        let prog = match self.parse_cached(&st.file.clone(), text) {
            Ok(p) => p,
            Err(e) => {
                self.diag(e.to_string());
                st.status = Status::Known(2);
                return vec![(st, Flow::Normal)];
            }
        };
        st.depth += 1;
        let mut paths = vec![(st, Flow::Normal)];
        for cmd in &prog.complete_commands {
            paths = self.seq(paths, |me, s| me.run_list(s, cmd));
        }
        for (s, _) in paths.iter_mut() {
            s.depth = s.depth.saturating_sub(1);
        }
        paths
    }
}

/// The text of a partly unknown `eval` string with each unknown piece replaced by a
/// reference to a variable of its own (`${__shellflow_eval_0}`), and those variables' values;
/// `None` unless a known command word comes first (a wholly unknown string could run
/// anything, and is not guessed at).
fn with_placeholders(v: &Val) -> Option<(String, Vec<(String, Val)>)> {
    let lead = match v.0.first()? {
        Part::Lit(s) => s.trim_start(),
        Part::Unknown { .. } => return None,
    };
    // The first word must end inside the known text.
    if !lead.contains(char::is_whitespace) {
        return None;
    }
    let mut text = String::new();
    let mut values = Vec::new();
    for part in &v.0 {
        match part {
            Part::Lit(s) => text.push_str(s),
            Part::Unknown { .. } => {
                let name = format!("__shellflow_eval_{}", values.len());
                text.push_str("${");
                text.push_str(&name);
                text.push('}');
                values.push((name, Val(smallvec::smallvec![part.clone()])));
            }
        }
    }
    Some((text, values))
}
