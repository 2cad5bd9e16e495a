pub struct Semaphore;pub struct SemaphorePermit; pub struct OwnedSemaphorePermit;
