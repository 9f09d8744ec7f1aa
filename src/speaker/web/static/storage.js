// localStorage that never throws: storage can be off (private windows, policies), and the studio
// must work all the same, only forgetting settings between visits.

export function recall(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

export function remember(key, value) {
  try {
    if (value === null || value === undefined || value === "") localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // Not remembered; nothing else depends on it.
  }
}
