//! Why the exec of a file that exists fails with ENOENT: the interpreter it names does not
//! exist. The kernel runs a script through the program its `#!` line names (up to the first
//! blank, a carriage return included) and a dynamically linked program through its ELF
//! program interpreter (PT_INTERP: the dynamic loader); when that is missing, execve answers
//! ENOENT for the file itself, which is there. Reads at most the file's first page.

use std::io::Read;

use super::super::hint::Hint;
use super::super::nearmiss;
use crate::syscalls::path::as_path;

/// Bytes read from the start of the file: the `#!` line (the kernel reads 256 bytes of it),
/// or the ELF header and its program headers.
const HEAD: u64 = 4096;
/// PT_INTERP, elf.h.
const PT_INTERP: u32 = 3;

/// The hint for an exec of `path` (which exists) that failed with ENOENT, when the
/// interpreter it needs is missing.
pub(super) fn missing_interpreter(path: &[u8]) -> Option<Hint> {
    let mut head = Vec::new();
    std::fs::File::open(as_path(path))
        .ok()?
        .take(HEAD)
        .read_to_end(&mut head)
        .ok()?;
    let (name, shebang) = if let Some(line) = head.strip_prefix(b"#!") {
        (shebang_interpreter(line)?, true)
    } else {
        (elf_interpreter(&head)?, false)
    };
    let crlf = name.ends_with(b"\r");
    let interpreter = name.strip_suffix(b"\r").unwrap_or(&name).to_vec();
    if !crlf && std::fs::metadata(as_path(&interpreter)).is_ok() {
        return None; // there: ENOENT came from something else
    }
    let meant = if crlf {
        None
    } else {
        nearmiss::did_you_mean(&interpreter)
    };
    Some(Hint::MissingInterpreter {
        path: path.to_vec(),
        interpreter,
        shebang,
        crlf,
        meant,
    })
}

/// The interpreter a `#!` line names (`line` follows the `#!`), as the kernel splits it:
/// blanks skipped, then up to the next blank or the end of the line (a `\r` stays in).
fn shebang_interpreter(line: &[u8]) -> Option<Vec<u8>> {
    let line = &line[..line.len().min(254)];
    let line = line.split(|&b| b == b'\n').next()?;
    let start = line.iter().position(|&b| b != b' ' && b != b'\t')?;
    let rest = &line[start..];
    let end = rest
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(rest.len());
    let name = &rest[..end];
    (name.first() == Some(&b'/')).then(|| name.to_vec())
}

/// The program interpreter of a 64-bit little-endian ELF file (`head`: its first bytes), when
/// its program headers are among them.
fn elf_interpreter(head: &[u8]) -> Option<Vec<u8>> {
    // e_ident: magic, ELFCLASS64 (2), ELFDATA2LSB (1).
    if head.len() < 64 || &head[..4] != b"\x7fELF" || head[4] != 2 || head[5] != 1 {
        return None;
    }
    // Offsets come from the file: every sum is checked.
    let at = |o: usize, n: usize| head.get(o..o.checked_add(n)?);
    let u16_at = |o: usize| Some(u16::from_le_bytes(at(o, 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(at(o, 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(at(o, 8)?.try_into().ok()?));
    let phoff = usize::try_from(u64_at(0x20)?).ok()?;
    let phentsize = usize::from(u16_at(0x36)?);
    let phnum = usize::from(u16_at(0x38)?);
    if phentsize < 56 {
        return None;
    }
    for i in 0..phnum.min(64) {
        let ph = phoff.checked_add(i.checked_mul(phentsize)?)?;
        if u32_at(ph)? != PT_INTERP {
            continue;
        }
        let off = usize::try_from(u64_at(ph.checked_add(8)?)?).ok()?;
        let len = usize::try_from(u64_at(ph.checked_add(32)?)?).ok()?.min(256);
        let bytes = head.get(off..off.checked_add(len)?)?;
        let name = bytes.split(|&b| b == 0).next()?;
        return (name.first() == Some(&b'/')).then(|| name.to_vec());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::testdir::TempDir;

    fn hint(dir: &TempDir, name: &str, body: &[u8]) -> Option<Hint> {
        std::fs::write(dir.p(name), body).unwrap();
        missing_interpreter(&dir.b(name))
    }

    #[test]
    fn a_shebang_naming_a_missing_interpreter() {
        let d = TempDir::new("interp");
        // Present: no hint.
        assert_eq!(hint(&d, "ok.sh", b"#!/bin/sh\necho\n"), None);
        assert_eq!(hint(&d, "ok2.sh", b"#! /bin/sh -e\necho\n"), None);
        // Misspelt: named, with the interpreter meant (/bin/sh exists everywhere).
        match hint(&d, "typo.sh", b"#!/bin/shh\necho\n") {
            Some(Hint::MissingInterpreter {
                interpreter,
                shebang: true,
                crlf: false,
                meant,
                ..
            }) => {
                assert_eq!(interpreter, b"/bin/shh");
                assert!(meant.is_some_and(|m| m.starts_with(b"/bin/")), "near miss");
            }
            h => panic!("{h:?}"),
        }
        // Windows line endings: the \r is part of the name the kernel looks up.
        match hint(&d, "crlf.sh", b"#!/bin/sh\r\necho\r\n") {
            Some(Hint::MissingInterpreter {
                interpreter,
                crlf: true,
                ..
            }) => assert_eq!(interpreter, b"/bin/sh"),
            h => panic!("{h:?}"),
        }
        // Not a path, or no interpreter at all.
        assert_eq!(hint(&d, "rel.sh", b"#!sh\n"), None);
        assert_eq!(hint(&d, "empty.sh", b"#!\n"), None);
        assert_eq!(hint(&d, "text", b"hello\n"), None);
    }

    #[test]
    fn an_elf_program_whose_loader_is_missing() {
        let d = TempDir::new("interp-elf");
        // This test's own binary: a real ELF whose loader exists.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let head = &me[..me.len().min(HEAD as usize)];
        let loader = elf_interpreter(head).expect("the test binary has a PT_INTERP");
        assert!(loader.starts_with(b"/"), "{loader:?}");
        assert_eq!(hint(&d, "ok.bin", head), None);
        // The same header with the loader's name changed to one that does not exist.
        let mut copy = head.to_vec();
        let at = copy
            .windows(loader.len())
            .position(|w| w == loader.as_slice())
            .unwrap();
        copy[at + loader.len() - 1] = b'X';
        match hint(&d, "moved.bin", &copy) {
            Some(Hint::MissingInterpreter {
                interpreter,
                shebang: false,
                ..
            }) => assert!(interpreter.ends_with(b"X"), "{interpreter:?}"),
            h => panic!("{h:?}"),
        }
        // Garbage after the magic: no panic, no hint.
        assert_eq!(hint(&d, "junk.bin", b"\x7fELF\x02\x01\xff\xff"), None);
        let mut big = vec![0u8; 64];
        big[..6].copy_from_slice(b"\x7fELF\x02\x01");
        big[0x20..0x28].copy_from_slice(&u64::MAX.to_le_bytes());
        big[0x36] = 56;
        big[0x38] = 3;
        assert_eq!(hint(&d, "huge.bin", &big), None);
    }
}
