"""The chaos soak (`python -m soak`): the shop under mixed load while its processes die in turn, checked afterwards.

It only ever touches the databases it names (<prefix>_write, <prefix>_read) and a private
redis-server; the streaming replica on 5433 is stopped and started as one of its faults and
always left running.
"""
