print("jobqueued")
