# The shell loop: 200 fork+exec of /bin/true from a shell.
for i in $(seq 200); do /bin/true; done
