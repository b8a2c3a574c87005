#[test]
fn smoke() {
    let v = goro::run(|| {
        let hs: Vec<_> = (0..1000u64).map(|i| goro::go(move || { goro::yield_now(); i })).collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(v, 499500);
    goro::run(|| goro::time::sleep(std::time::Duration::from_millis(10)));
    let rt = goro::Runtime::builder().max_procs(1).build().unwrap();
    let r = rt.run(|| goro::go(|| panic!("x")).join().is_err());
    assert!(r);
    drop(rt);
}
