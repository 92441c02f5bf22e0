// SingletonJob implementation arrives with the jobs work.
