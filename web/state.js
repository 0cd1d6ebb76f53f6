// What the page knows between views: the API and session, whom the reader follows (for follow
// buttons and celebrity badges), the posts the reader reposted or liked from this page (an API
// without `viewer` still shows them), and the feed on screen.

export const state = {
  api: null,
  following: new Map(), // handle (lower case) -> profile
  followingComplete: false,
  followingLoaded: null, // the promise of the first load
  followingDone: false, // that load has finished (well or not)
  followingError: null, // why it failed, if it did
  reposted: new Map(), // post id -> reposted, as last done from this page
  liked: new Map(), // post id -> liked, as last done from this page
  feed: null, // the feed on screen (destroyed when the view changes)
};

export function resetState() {
  state.following.clear();
  state.followingComplete = false;
  state.followingLoaded = null;
  state.followingDone = false;
  state.followingError = null;
  state.reposted.clear();
  state.liked.clear();
}

export function isFollowing(handle) {
  return state.following.has(handle.toLowerCase());
}

/** What a post card needs from the page. */
export function context(extra = {}) {
  return {
    api: state.api,
    me: state.api.me,
    reposted: state.reposted,
    liked: state.liked,
    isCelebrity: (handle) => Boolean(state.following.get(handle.toLowerCase())?.celebrity),
    ...extra,
  };
}
