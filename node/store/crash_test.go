package store

const crashChildEnv = "CRVSX_STORE_CRASH_CHILD"

func crashChild(dir string) int { return 2 }
