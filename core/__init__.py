"""The bottom layer every package may import; it imports nothing of ours."""
