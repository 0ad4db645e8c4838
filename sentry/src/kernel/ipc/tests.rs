use std::sync::Arc;
use std::time::{Duration, Instant};

use snare_abi::ipc::{Msqid64Ds, Sembuf, IPC_CREAT, IPC_EXCL, IPC_NOWAIT, SEM_UNDO, SHM_DEST};
use snare_abi::Errno;

use super::msg::Select;
use super::sem::SemUndo;
use super::*;
use crate::vfs::tmpfs::Tmpfs;

fn ns() -> Arc<IpcNamespace> {
    IpcNamespace::new(Limits::default(), Tmpfs::new())
}

fn root() -> IpcCred {
    IpcCred {
        tgid: 7,
        caps: snare_abi::caps::CAP_FULL_SET,
        ..IpcCred::default()
    }
}

fn user(uid: u32, gid: u32) -> IpcCred {
    IpcCred {
        euid: uid,
        egid: gid,
        groups: vec![],
        tgid: 8,
        caps: 0,
    }
}

#[derive(Debug)]
struct Thing(KernPerm);

impl Object for Thing {
    fn perm(&self) -> &KernPerm {
        &self.0
    }
    fn perm_mut(&mut self) -> &mut KernPerm {
        &mut self.0
    }
}

fn thing(key: i32) -> Thing {
    Thing(KernPerm {
        key,
        ..KernPerm::default()
    })
}

/// Indexes go round after the last one given; the sequence number moves when they wrap,
/// so a stale id finds nothing.
#[test]
fn ids_cycle() {
    let mut ids = Ids::default();
    let a = ids.add(10, thing(0)).expect("a");
    let b = ids.add(10, thing(5)).expect("b");
    assert_eq!((a, b), (0, 1));
    assert!(ids.remove(a).is_some());
    let c = ids.add(10, thing(0)).expect("c");
    assert_eq!(c, 2, "the next index, not the freed one");
    assert_eq!(ids.by_key(5).map(|t| t.0.id), Some(b));
    assert_eq!(ids.get(a).err(), Some(Errno::EINVAL));
    assert_eq!(ids.max_index(), 2);
    // With few in use, indexes cycle below 64.
    for _ in 3..64 {
        let id = ids.add(100, thing(0)).expect("cycle");
        ids.remove(id);
    }
    // Index 0 again, with the next sequence number.
    let d = ids.add(100, thing(0)).expect("wrapped");
    assert_eq!(d, IPCMNI as i32);
    assert_eq!(ids.get(0).err(), Some(Errno::EINVAL));
    assert_eq!(ids.at_index(0).map(|t| t.0.id).ok(), Some(d));
    let full = (0..3)
        .map(|_| thing(0))
        .try_for_each(|t| ids.add(5, t).map(drop));
    assert_eq!(full, Err(Errno::ENOSPC));
    ids.forget_key(b);
    assert!(ids.by_key(5).is_none());
    assert_eq!(ids.get(b).map(|t| t.0.key).ok(), Some(IPC_PRIVATE));
}

#[test]
fn permissions() {
    let p = KernPerm {
        uid: 10,
        gid: 20,
        cuid: 11,
        cgid: 21,
        mode: 0o640,
        ..KernPerm::default()
    };
    assert!(ipcperms(&user(10, 99), &p, 0o600).is_ok());
    assert!(ipcperms(&user(11, 99), &p, 0o600).is_ok(), "the creator");
    assert_eq!(ipcperms(&user(12, 21), &p, 0o600), Err(Errno::EACCES));
    assert!(
        ipcperms(&user(12, 21), &p, 0o400).is_ok(),
        "the creator's group"
    );
    assert_eq!(ipcperms(&user(12, 22), &p, 0o444), Err(Errno::EACCES));
    assert!(ipcperms(&user(12, 22), &p, 0).is_ok(), "nothing asked");
    assert!(ipcperms(&root(), &p, 0o777).is_ok());
    assert_eq!(check_owner(&user(12, 20), &p), Err(Errno::EPERM));
    assert!(check_owner(&user(11, 0), &p).is_ok());
    assert!(check_owner(&root(), &p).is_ok());
}

#[test]
fn sysctl_files() {
    let ns = ns();
    let mut l = ns.limits();
    l.set("sem", "1\t2 3 4").expect("sem");
    l.set("msgmnb", " 100 ").expect("msgmnb");
    assert!(l.set("msgmnb", "-1").is_err());
    assert!(l.set("nope", "1").is_err());
    ns.set_limits(l);
    assert_eq!(ns.sysctl("sem").as_deref(), Some("1\t2\t3\t4\n"));
    assert_eq!(ns.sysctl("msgmnb").as_deref(), Some("100\n"));
    assert_eq!(ns.sysctl("shmmni").as_deref(), Some("4096\n"));
    assert!(ns.sysctl("hostname").is_none());
    assert!(SYSCTL_FILES.iter().all(|f| ns.sysctl(f).is_some()));
    // Linux's column headers, to the byte.
    for (f, width) in [("shm", 169), ("sem", 84), ("msg", 119)] {
        let text = ns.proc_file(f).expect(f);
        assert_eq!(text.lines().next().map(str::len), Some(width), "{f}");
    }
}

#[test]
fn shm_get_rules() {
    let ns = ns();
    let c = root();
    assert_eq!(ns.shmget(0, 0, 0o600, &c), Err(Errno::EINVAL));
    assert_eq!(ns.shmget(0, u64::MAX, 0o600, &c), Err(Errno::EINVAL));
    // A large segment is sparse: nothing is charged until its pages are touched.
    let big = ns.shmget(0, 2 << 30, 0o600, &c).expect("2 GiB");
    ns.shm_rmid(big, &c).expect("rmid");
    assert_eq!(
        ns.shmget(0, 1 << 63, 0o600, &c),
        Err(Errno::EINVAL),
        "past the largest file"
    );
    let id = ns.shmget(42, 5000, IPC_CREAT | 0o640, &c).expect("new");
    assert_eq!(
        ns.shmget(42, 5000, IPC_CREAT | IPC_EXCL, &c),
        Err(Errno::EEXIST)
    );
    assert_eq!(ns.shmget(42, 5001, 0, &c), Err(Errno::EINVAL));
    assert_eq!(ns.shmget(42, 1, 0, &c), Ok(id));
    assert_eq!(ns.shmget(43, 1, 0, &c), Err(Errno::ENOENT));
    assert_eq!(ns.shmget(42, 1, 0o600, &user(5, 5)), Err(Errno::EACCES));
    let mut l = ns.limits();
    l.shmall = 2;
    ns.set_limits(l);
    assert_eq!(ns.shmget(0, 4096, 0o600, &c), Err(Errno::ENOSPC), "shmall");
    let (ds, _) = ns.shm_stat(id, false, false, &c).expect("stat");
    assert_eq!(
        (ds.shm_segsz, ds.shm_cpid, ds.shm_perm.mode),
        (5000, 7, 0o640)
    );
    // An attach that maps nothing: removal waits for it.
    let att = ns.shm_attach(id, true, false, &c).expect("attach");
    ns.shm_rmid(id, &c).expect("rmid");
    let (ds, _) = ns.shm_stat(id, false, false, &c).expect("still there");
    assert_eq!(
        (ds.shm_nattch, ds.shm_perm.mode & SHM_DEST, ds.shm_perm.key),
        (1, SHM_DEST, 0)
    );
    assert_eq!(ns.shmget(42, 1, 0, &c), Err(Errno::ENOENT));
    drop(att);
    assert_eq!(ns.shm_stat(id, false, false, &c).err(), Some(Errno::EINVAL));
}

fn sop(num: u16, op: i16, flg: i16) -> Sembuf {
    Sembuf {
        sem_num: num,
        sem_op: op,
        sem_flg: flg,
    }
}

#[test]
fn semop_all_or_nothing() {
    let ns = ns();
    let c = root();
    let undo = SemUndo::default();
    let id = ns.semget(0, 2, 0o600, &c).expect("set");
    let nowait = IPC_NOWAIT as i16;
    ns.semop(id, &[sop(0, 2, 0)], None, &undo, &c).expect("up");
    let r = ns.semop(id, &[sop(0, -1, 0), sop(1, -1, nowait)], None, &undo, &c);
    assert_eq!(r, Err(Errno::EAGAIN));
    assert_eq!(ns.sem_get(id, 0, snare_abi::ipc::GETVAL, &c), Ok(2));
    assert_eq!(
        ns.semop(id, &[sop(2, 1, 0)], None, &undo, &c),
        Err(Errno::EFBIG)
    );
    let r = ns.semop(id, &[sop(1, 32767, 0), sop(1, 1, 0)], None, &undo, &c);
    assert_eq!(r, Err(Errno::ERANGE));
    let soon = Some(Instant::now() + Duration::from_millis(10));
    assert_eq!(
        ns.semop(id, &[sop(1, -1, 0)], soon, &undo, &c),
        Err(Errno::EAGAIN),
        "timed out"
    );
    assert_eq!(ns.sem_setval(id, 0, 40000, &c), Err(Errno::ERANGE));
    assert_eq!(ns.sem_setval(id, 5, 1, &c), Err(Errno::EINVAL));
    assert_eq!(ns.sem_setval(id, 0, 1, &user(3, 3)), Err(Errno::EACCES));
}

/// The last holder of an undo list applies it, clamped; a removed set is skipped.
#[test]
fn undo_at_exit() {
    let ns = ns();
    let c = root();
    let id = ns.semget(0, 2, 0o600, &c).expect("set");
    let undo = Arc::new(SemUndo::default());
    let shared = undo.clone();
    let u = SEM_UNDO;
    ns.semop(id, &[sop(0, 5, u), sop(1, 3, u)], None, &undo, &c)
        .expect("up");
    ns.semop(id, &[sop(0, -4, 0)], None, &SemUndo::default(), &c)
        .expect("down");
    drop(undo);
    assert_eq!(ns.sem_getall(id, &c), Ok(vec![1, 3]), "still held");
    drop(shared);
    assert_eq!(ns.sem_getall(id, &c), Ok(vec![0, 0]), "applied, clamped");
    let other = ns.semget(0, 1, 0o600, &c).expect("set");
    let undo = SemUndo::default();
    ns.semop(other, &[sop(0, 1, u)], None, &undo, &c)
        .expect("up");
    ns.sem_rmid(other, &c).expect("rmid");
    drop(undo);
}

/// A sleeper wakes with EIDRM when its set or queue goes.
#[test]
fn removal_wakes_sleepers() {
    let ns = ns();
    let c = root();
    let set = ns.semget(0, 1, 0o600, &c).expect("set");
    let q = ns.msgget(0, 0o600, &c).expect("queue");
    let (ns2, c2) = (ns.clone(), c.clone());
    let sem = std::thread::spawn(move || {
        ns2.semop(set, &[sop(0, -1, 0)], None, &SemUndo::default(), &c2)
    });
    let (ns3, c3) = (ns.clone(), c.clone());
    let msg = std::thread::spawn(move || ns3.msgrcv(q, 10, Select::Any, 0, &c3));
    while ns.sem_get(set, 0, snare_abi::ipc::GETNCNT, &c) != Ok(1) {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(20));
    ns.sem_rmid(set, &c).expect("rmid");
    ns.msg_rmid(q, &c).expect("rmid");
    assert_eq!(sem.join().expect("sem"), Err(Errno::EIDRM));
    assert_eq!(msg.join().expect("msg"), Err(Errno::EIDRM));
}

#[test]
fn message_selection() {
    let ns = ns();
    let c = root();
    let q = ns.msgget(0, 0o600, &c).expect("queue");
    for (t, text) in [(3, "c"), (1, "a"), (2, "b"), (1, "a2")] {
        ns.msgsnd(q, t, text.into(), false, &c).expect("send");
    }
    let take = |sel: Select| ns.msgrcv(q, 10, sel, IPC_NOWAIT, &c);
    assert_eq!(take(Select::LessEqual(2)), Ok((1, b"a".to_vec())));
    assert_eq!(take(Select::NotEqual(3)), Ok((2, b"b".to_vec())));
    assert_eq!(take(Select::Equal(9)), Err(Errno::ENOMSG));
    assert_eq!(ns.msgrcv(q, 1, Select::Equal(1), 0, &c), Err(Errno::E2BIG));
    assert_eq!(
        ns.msgrcv(q, 1, Select::Equal(1), snare_abi::ipc::MSG_NOERROR, &c),
        Ok((1, b"a".to_vec()))
    );
    assert_eq!(take(Select::Any), Ok((3, b"c".to_vec())));
    // msg_qbytes past msgmnb needs CAP_SYS_RESOURCE; the owner may lower it.
    let mine = ns.msgget(0, 0o600, &user(4, 4)).expect("queue");
    let ds = Msqid64Ds {
        msg_qbytes: 1 << 20,
        msg_perm: snare_abi::ipc::Ipc64Perm {
            uid: 4,
            gid: 4,
            mode: 0o600,
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(ns.msg_set(mine, &ds, &user(4, 4)), Err(Errno::EPERM));
    assert!(ns.msg_set(mine, &ds, &c).is_ok());
    assert_eq!(ns.msg_set(mine, &ds, &user(5, 5)), Err(Errno::EPERM));
}

/// The Sentry's own bound: messages past SANDBOX_BYTES don't fit, whatever msg_qbytes says.
#[test]
fn messages_bounded() {
    let ns = ns();
    let c = root();
    let mut l = ns.limits();
    l.msgmnb = u32::MAX >> 1;
    ns.set_limits(l);
    let q = ns.msgget(0, 0o600, &c).expect("queue");
    let mut n = 0u64;
    while ns.msgsnd(q, 1, vec![0; 8192], true, &c).is_ok() {
        n += 1;
    }
    assert_eq!(n, msg::SANDBOX_BYTES / (8192 + msg::MSG_OVERHEAD));
    ns.msg_rmid(q, &c).expect("rmid");
    let q = ns.msgget(0, 0o600, &c).expect("queue");
    assert!(ns.msgsnd(q, 1, vec![0; 8192], true, &c).is_ok(), "freed");
}
