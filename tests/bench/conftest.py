"""The benchmark's tests: its model and plots (no emulator), and, marked `server`, the tiny
profile end to end and the chaos soak's short run (their own embedded emulators)."""
