//! A request's notes: what explains a failed request that no failing file call does. Today a
//! 403 only: a symbolic link the URL names that Apache found and refused itself, else the
//! server refusing by itself (an access rule, a directory without index and listing). Notes
//! are data ([`Note`]); output/explain.rs words them.

use super::hint::Note;
use super::rooted::Rooted;
use super::{Recorded, Suspect, rank};
use crate::http::correlate::Request;

/// The notes for a finished `request` whose suspects are `suspects`. Symbolic links are
/// looked at only live (`root` is `/`); offline, what the recording noted is kept.
pub(super) fn notes(
    request: &Request,
    suspects: &[Suspect],
    root: Option<&Rooted>,
    recorded: Option<&Recorded>,
) -> Vec<Note> {
    let mut notes = if suspects.iter().all(|s| s.noise) && request.status == Some(403) {
        match (root, recorded) {
            (Some(root), _) if root.is_slash() => symlink_notes(request),
            (_, Some(rec)) => rec.notes.clone(),
            _ => Vec::new(),
        }
    } else {
        Vec::new()
    };
    // A 403 that no refused file call explains: the server refused by itself. Missing files
    // are no reason for a 403 unless the URL named a directory none of whose index files
    // exist.
    if request.status == Some(403)
        && notes.is_empty()
        && !suspects
            .iter()
            .any(|s| !s.noise && matches!(s.errno, libc::EACCES | libc::EPERM))
    {
        notes.push(Note::ForbiddenByServer);
    }
    notes
}

/// A 403 with no failing syscall: Apache looked a path up, found it, and refused it itself.
/// The usual reason is a symbolic link where Options FollowSymLinks (or
/// SymLinksIfOwnerMatch, with another owner) is off: Apache's AH00037.
fn symlink_notes(request: &Request) -> Vec<Note> {
    let mut notes: Vec<Note> = Vec::new();
    let url = request
        .target
        .as_deref()
        .map(rank::url_path)
        .unwrap_or_default();
    for l in &request.lookups {
        // Only what the URL names (a file or a directory on its way), not the server's own
        // lookups (/etc/localtime for the log's time stamp).
        let name = rank::basename(&l.path);
        if name.is_empty() || !url.windows(name.len()).any(|w| w == name) {
            continue;
        }
        let p = crate::syscalls::path::as_path(&l.path);
        let Ok(meta) = std::fs::symlink_metadata(p) else {
            continue;
        };
        if !meta.file_type().is_symlink() {
            continue;
        }
        let target = std::fs::read_link(p)
            .map(|t| t.into_os_string().into_encoded_bytes())
            .unwrap_or_default();
        let note = Note::RefusedSymlink {
            path: l.path.clone(),
            target,
        };
        if !notes.contains(&note) {
            notes.push(note);
        }
    }
    notes
}
