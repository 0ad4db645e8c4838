use super::*;

fn root() -> Creator {
    Creator {
        cred: Cred::root(),
        ruid: 0,
        rlimit: None,
        privileged: true,
        umask: 0o022,
    }
}

fn attr(max: i64, size: i64) -> MqAttr {
    MqAttr {
        mq_maxmsg: max,
        mq_msgsize: size,
        ..MqAttr::default()
    }
}

#[test]
fn names() {
    assert_eq!(check_name(b""), Err(Errno::EACCES));
    assert_eq!(check_name(b".."), Err(Errno::EACCES));
    assert_eq!(check_name(b"a/b"), Err(Errno::EACCES));
    assert_eq!(check_name(&[b'a'; 256]), Err(Errno::ENAMETOOLONG));
    assert_eq!(check_name(&[b'a'; 255]), Ok(()));
}

#[test]
fn limits() {
    assert_eq!(check_attr(&attr(0, 1), true), Err(Errno::EINVAL));
    assert_eq!(check_attr(&attr(11, 1), false), Err(Errno::EINVAL));
    assert_eq!(check_attr(&attr(1, 8193), false), Err(Errno::EINVAL));
    assert_eq!(check_attr(&attr(10, 8192), false), Ok(82_880));
    assert_eq!(
        check_attr(&attr(HARD_MSGMAX + 1, 1), true),
        Err(Errno::EINVAL)
    );
    assert!(check_attr(&attr(HARD_MSGMAX, HARD_MSGSIZEMAX), true).is_ok());
    // The sandbox's bound holds whatever the rlimit says.
    let big = attr(HARD_MSGMAX, HARD_MSGSIZEMAX);
    assert_eq!(
        open(b"unit-big", o::CREAT | o::RDWR, 0o600, Some(&big), &root()).err(),
        Some(Errno::ENOMEM)
    );
    let mut c = root();
    c.ruid = 4242;
    c.rlimit = Some(100_000);
    let q = open(b"unit-rl1", o::CREAT | o::RDWR, 0o600, None, &c).expect("first fits");
    assert_eq!(
        open(b"unit-rl2", o::CREAT | o::RDWR, 0o600, None, &c).err(),
        Some(Errno::EMFILE)
    );
    unlink(b"unit-rl1", None).expect("unlink");
    drop(q);
    open(b"unit-rl2", o::CREAT | o::RDWR, 0o600, None, &c).expect("freed on last close");
    unlink(b"unit-rl2", None).expect("unlink");
}

#[test]
fn priority_order_and_status() {
    let f = open(
        b"unit-prio",
        o::CREAT | o::RDWR | o::NONBLOCK,
        0o640,
        Some(&attr(3, 16)),
        &root(),
    )
    .expect("open");
    assert_eq!(f.stat().map(|s| s.st_mode), Ok(S_IFREG | 0o640));
    for (m, p) in [(&b"low"[..], 1), (b"high", 9), (b"low2", 1)] {
        f.send(m.to_vec(), p, None, (1, 0)).expect("send");
    }
    assert_eq!(f.send(b"x".to_vec(), 0, None, (1, 0)), Err(Errno::EAGAIN));
    assert_eq!(f.check_send(17), Err(Errno::EMSGSIZE));
    assert_eq!(f.poll() & poll::OUT, 0);
    let mut text = [0u8; 100];
    let n = f.read(&mut text).expect("read");
    assert_eq!(
        &text[..n],
        b"QSIZE:11         NOTIFY:0     SIGNO:0     NOTIFY_PID:0     \n"
    );
    assert_eq!(f.receive(8, None), Err(Errno::EMSGSIZE));
    let got: Vec<_> = (0..3).map(|_| f.receive(16, None).expect("rx")).collect();
    assert_eq!(
        got,
        vec![
            (b"high".to_vec(), 9),
            (b"low".to_vec(), 1),
            (b"low2".to_vec(), 1)
        ]
    );
    assert_eq!(f.receive(16, None), Err(Errno::EAGAIN));
    unlink(b"unit-prio", None).expect("unlink");
    assert_eq!(unlink(b"unit-prio", None), Err(Errno::ENOENT));
}

#[derive(Debug, Default)]
struct Catcher(Mutex<Vec<SigInfo>>);

impl NotifyOwner for Catcher {
    fn tgid(&self) -> i32 {
        7
    }
    fn alive(&self) -> bool {
        true
    }
    fn signal(&self, info: SigInfo) {
        self.0.lock().expect("lock").push(info);
    }
}

#[test]
fn notification_once_on_empty() {
    let f = open(
        b"unit-notify",
        o::CREAT | o::RDWR | o::NONBLOCK,
        0o600,
        None,
        &root(),
    )
    .expect("open");
    let c = Arc::new(Catcher::default());
    let how = Notify::Signal {
        signo: 10,
        value: 99,
    };
    f.notify(c.clone(), Some(how)).expect("register");
    assert_eq!(f.notify(c.clone(), Some(how)), Err(Errno::EBUSY));
    f.send(b"a".to_vec(), 0, None, (3, 1000)).expect("send");
    f.send(b"b".to_vec(), 0, None, (3, 1000)).expect("send");
    let got = c.0.lock().expect("lock").clone();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].si_code, got[0].fields[0], got[0].fields[1]),
        (SI_MESGQ, 3 | 1000 << 32, 99)
    );
    // Fired, so unregistered: registering again works.
    f.notify(c.clone(), Some(Notify::None)).expect("again");
    f.notify(c, None).expect("unregister");
    unlink(b"unit-notify", None).expect("unlink");
}

#[test]
fn blocked_receiver_wakes() {
    let f = open(b"unit-block", o::CREAT | o::RDWR, 0o600, None, &root()).expect("open");
    let f2 = f.clone();
    let t = std::thread::spawn(move || f2.receive(8192, None));
    std::thread::sleep(std::time::Duration::from_millis(20));
    f.send(b"hi".to_vec(), 5, None, (1, 0)).expect("send");
    assert_eq!(t.join().expect("join"), Ok((b"hi".to_vec(), 5)));
    let d = Instant::now() + std::time::Duration::from_millis(10);
    assert_eq!(f.receive(8192, Some(d)), Err(Errno::ETIMEDOUT));
    unlink(b"unit-block", None).expect("unlink");
}
