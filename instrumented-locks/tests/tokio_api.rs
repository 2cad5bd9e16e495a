//! `lockprof::tokio` has `tokio::sync`'s API: one body of code that uses every operation and
//! names every type is compiled and run against both, with only the import path switched.
#![cfg(feature = "tokio")]

macro_rules! whole_api {
    ($name:ident, $sync:path) => {
        #[allow(clippy::all)]
        mod $name {
            use std::sync::Arc;

            use s::{
                AcquireError, MappedMutexGuard, Mutex, MutexGuard, OwnedMappedMutexGuard, OwnedMutexGuard,
                OwnedRwLockMappedWriteGuard, OwnedRwLockReadGuard, OwnedRwLockWriteGuard,
                OwnedSemaphorePermit, RwLock, RwLockMappedWriteGuard, RwLockReadGuard, RwLockWriteGuard,
                Semaphore, SemaphorePermit, TryAcquireError, TryLockError,
            };
            use $sync as s;

            static STATIC_MUTEX: Mutex<u32> = Mutex::const_new(1);
            static STATIC_RW: RwLock<u32> = RwLock::const_new(1);
            static STATIC_RW_MAX: RwLock<u32> = RwLock::const_with_max_readers(1, 4);
            static STATIC_SEM: Semaphore = Semaphore::const_new(2);

            async fn mutex() {
                let m: Mutex<(u32, u32)> = Mutex::new((1, 2));
                {
                    let g: MutexGuard<'_, (u32, u32)> = m.lock().await;
                    assert!(std::ptr::eq(MutexGuard::mutex(&g), &m));
                    let err: TryLockError = m.try_lock().unwrap_err();
                    let _ = format!("{err} {err:?}");
                    let mapped: MappedMutexGuard<'_, u32> = MutexGuard::map(g, |p| &mut p.0);
                    let mapped = MappedMutexGuard::map(mapped, |x| x);
                    let _ = MappedMutexGuard::try_map(mapped, |x| Some(x)).ok().unwrap();
                }
                let g = m.try_lock().unwrap();
                let g = MutexGuard::try_map(g, |_| None::<&mut u32>).unwrap_err();
                assert_eq!(format!("{g:?}"), "(1, 2)");
                drop(g);
                let m = Arc::new(m);
                let owned: OwnedMutexGuard<(u32, u32)> = Arc::clone(&m).lock_owned().await;
                assert!(Arc::ptr_eq(OwnedMutexGuard::mutex(&owned), &m));
                let om: OwnedMappedMutexGuard<(u32, u32), u32> = OwnedMutexGuard::map(owned, |p| &mut p.1);
                let om = OwnedMappedMutexGuard::map(om, |x| x);
                let om = OwnedMappedMutexGuard::try_map(om, |x| Some(x)).ok().unwrap();
                drop(om);
                let owned = Arc::clone(&m).try_lock_owned().unwrap();
                let owned = OwnedMutexGuard::try_map(owned, |_| None::<&mut u32>).unwrap_err();
                drop(owned);
                let mut plain: Mutex<u32> = Mutex::from(3);
                *plain.get_mut() += 1;
                assert_eq!(
                    format!("{plain:?}"),
                    format!("{:?}", {
                        let reference: tokio::sync::Mutex<u32> = tokio::sync::Mutex::new(4);
                        reference
                    })
                );
                assert_eq!(plain.into_inner(), 4);
                let _: Mutex<u32> = Mutex::default();
                assert_eq!(*STATIC_MUTEX.lock().await, 1);
            }

            fn blocking() {
                let m = Arc::new(Mutex::new(1));
                *m.blocking_lock() += 1;
                assert_eq!(*Arc::clone(&m).blocking_lock_owned(), 2);
                let rw = RwLock::new(1);
                *rw.blocking_write() += 1;
                assert_eq!(*rw.blocking_read(), 2);
                let sem = Arc::new(Semaphore::new(2));
                let _a: SemaphorePermit<'_> = sem.blocking_acquire().unwrap();
                let _b: OwnedSemaphorePermit = Arc::clone(&sem).blocking_acquire_owned().unwrap();
                drop((_a, _b));
                let _c = sem.blocking_acquire_many(2).unwrap();
                drop(_c);
                let _d = Arc::clone(&sem).blocking_acquire_many_owned(2).unwrap();
            }

            async fn rwlock() {
                let rw: RwLock<(u32, u32)> = RwLock::new((1, 2));
                {
                    let r: RwLockReadGuard<'_, (u32, u32)> = rw.read().await;
                    let r2 = rw.try_read().unwrap();
                    let _: TryLockError = rw.try_write().unwrap_err();
                    let r = RwLockReadGuard::map(r, |p| &p.0);
                    let _ = RwLockReadGuard::try_map(r, |x| Some(x)).ok().unwrap();
                    assert_eq!(format!("{r2:?}"), "(1, 2)");
                }
                {
                    let w: RwLockWriteGuard<'_, (u32, u32)> = rw.write().await;
                    let w: RwLockMappedWriteGuard<'_, u32> = RwLockWriteGuard::map(w, |p| &mut p.0);
                    let w = RwLockMappedWriteGuard::map(w, |x| x);
                    let _ = RwLockMappedWriteGuard::try_map(w, |x| Some(x)).ok().unwrap();
                }
                let w = rw.try_write().unwrap();
                let w = RwLockWriteGuard::try_map(w, |_| None::<&mut u32>).unwrap_err();
                let w = RwLockWriteGuard::try_downgrade_map(w, |_| None::<&u32>).unwrap_err();
                let r = RwLockWriteGuard::downgrade_map(w, |p| &p.1);
                drop(r);
                let w = rw.write().await;
                let _ = RwLockWriteGuard::into_mapped(w);
                let r: RwLockReadGuard<'_, (u32, u32)> = rw.write().await.downgrade();
                drop(r);
                let rw = Arc::new(rw);
                let or: OwnedRwLockReadGuard<(u32, u32)> = Arc::clone(&rw).read_owned().await;
                assert!(Arc::ptr_eq(OwnedRwLockReadGuard::rwlock(&or), &rw));
                let or: OwnedRwLockReadGuard<(u32, u32), u32> = OwnedRwLockReadGuard::map(or, |p| &p.0);
                let _ = OwnedRwLockReadGuard::try_map(or, |x| Some(x)).ok().unwrap();
                let _ = Arc::clone(&rw).try_read_owned().unwrap();
                let ow: OwnedRwLockWriteGuard<(u32, u32)> = Arc::clone(&rw).write_owned().await;
                assert!(Arc::ptr_eq(OwnedRwLockWriteGuard::rwlock(&ow), &rw));
                let om: OwnedRwLockMappedWriteGuard<(u32, u32), u32> =
                    OwnedRwLockWriteGuard::map(ow, |p| &mut p.0);
                let om = OwnedRwLockMappedWriteGuard::map(om, |x| x);
                let om = OwnedRwLockMappedWriteGuard::try_map(om, |x| Some(x)).ok().unwrap();
                assert!(Arc::ptr_eq(OwnedRwLockMappedWriteGuard::rwlock(&om), &rw));
                drop(om);
                let ow = Arc::clone(&rw).try_write_owned().unwrap();
                let ow = OwnedRwLockWriteGuard::try_map(ow, |_| None::<&mut u32>).unwrap_err();
                let ow = OwnedRwLockWriteGuard::try_downgrade_map(ow, |_| None::<&u32>).unwrap_err();
                let _ = OwnedRwLockWriteGuard::downgrade_map(ow, |p| &p.1);
                let _ = OwnedRwLockWriteGuard::into_mapped(Arc::clone(&rw).write_owned().await);
                let _: OwnedRwLockReadGuard<(u32, u32)> = Arc::clone(&rw).write_owned().await.downgrade();
                let mut plain: RwLock<u32> = RwLock::with_max_readers(1, 2);
                *plain.get_mut() = 5;
                assert_eq!(format!("{plain:?}"), "RwLock { data: 5 }");
                assert_eq!(plain.into_inner(), 5);
                let _: RwLock<u32> = RwLock::from(1);
                let _: RwLock<u32> = RwLock::default();
                assert_eq!(*STATIC_RW.read().await + *STATIC_RW_MAX.read().await, 2);
            }

            async fn semaphore() {
                let sem = Semaphore::new(3);
                let _ = Semaphore::MAX_PERMITS;
                let mut p: SemaphorePermit<'_> = sem.acquire().await.unwrap();
                p.merge(sem.acquire_many(2).await.unwrap());
                assert_eq!(p.num_permits(), 3);
                let q = p.split(1).unwrap();
                assert!(std::ptr::eq(q.semaphore(), &sem));
                let _: TryAcquireError = sem.try_acquire().unwrap_err();
                let _: TryAcquireError = sem.try_acquire_many(2).unwrap_err();
                q.forget();
                drop(p);
                assert_eq!(sem.available_permits(), 2);
                sem.add_permits(1);
                assert_eq!(sem.forget_permits(1), 1);
                let sem = Arc::new(sem);
                let mut o: OwnedSemaphorePermit = Arc::clone(&sem).acquire_owned().await.unwrap();
                o.merge(Arc::clone(&sem).try_acquire_owned().unwrap());
                let o2 = o.split(1).unwrap();
                assert!(Arc::ptr_eq(o2.semaphore(), &sem));
                o2.forget();
                drop(o);
                let _ = Arc::clone(&sem).acquire_many_owned(1).await.unwrap();
                let _ = Arc::clone(&sem).try_acquire_many_owned(1).unwrap();
                let _ = format!("{:?} {:?}", sem, sem.try_acquire().unwrap());
                sem.close();
                assert!(sem.is_closed());
                let err: AcquireError = sem.acquire().await.unwrap_err();
                let _ = format!("{err} {err:?}");
                assert_eq!(STATIC_SEM.available_permits(), 2);
            }

            #[test]
            fn whole_api() {
                let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
                runtime.block_on(async {
                    mutex().await;
                    rwlock().await;
                    semaphore().await;
                });
                blocking();
            }
        }
    };
}

whole_api!(tokio_itself, tokio::sync);
whole_api!(lockprof_tokio, lockprof::tokio);
