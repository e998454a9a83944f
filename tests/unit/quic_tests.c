/* SPDX-License-Identifier: MIT */
/*
 * QUIC Initial parsing: the RFC 9001 and RFC 9369 Appendix A vectors (keys,
 * header protection, payloads, both directions, sealed back byte for byte),
 * datagrams captured from Chromium and ngtcp2's client,
 * a real libssl ClientHello reassembled from CRYPTO frames split at every
 * point and shuffled across two datagrams, coalesced packets, the
 * CONNECTION_CLOSE answer opened with the server keys, and malformed
 * Initials, each with the exact error it must give.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/ssl.h>
#include "suites.h"
#include "router/quic_close.h"
#include "router/quic_initial.h"

/* RFC 9001 A.2/A.3 and RFC 9369 A.2/A.3, as printed there */
static const char V1_CLIENT_PROT[] =
	"c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11"
	"d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399"
	"1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c"
	"8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212"
	"30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5"
	"457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208"
	"4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec"
	"4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3"
	"485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db"
	"059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c"
	"7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8"
	"9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556"
	"be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74"
	"68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a"
	"c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00"
	"f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632"
	"291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964"
	"25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd"
	"14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff"
	"ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198"
	"e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd"
	"c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73"
	"203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f"
	"cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e"
	"fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade"
	"a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047"
	"90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2"
	"162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4"
	"40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0"
	"6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e"
	"8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0"
	"be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400"
	"54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab"
	"760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9"
	"f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4"
	"056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064"
	"7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241"
	"e221af44860018ab0856972e194cd934";

static const char V1_SERVER_PROT[] =
	"cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a"
	"5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3"
	"dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84"
	"022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4"
	"2158407dd074ee";

static const char V2_CLIENT_PROT[] =
	"d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485"
	"dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04"
	"9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d"
	"250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a"
	"12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500"
	"cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68"
	"18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33"
	"12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3"
	"d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd"
	"6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520"
	"bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045"
	"636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f"
	"ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12"
	"16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5"
	"4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4"
	"fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b"
	"8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7"
	"14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9"
	"9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91"
	"abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd"
	"80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db"
	"848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18"
	"d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15"
	"c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc"
	"7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61"
	"f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710"
	"10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b"
	"3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e"
	"06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce"
	"8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1"
	"34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1"
	"e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd"
	"5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3"
	"8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89"
	"d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53"
	"6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19"
	"9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b"
	"a18b2faa745b6fe189cf772a9f84cbfc";

static const char V2_SERVER_PROT[] =
	"dc6b3343cf0008f067a5502a4262b5004075d92faaf16f05d8a4398c47089698"
	"baeea26b91eb761d9b89237bbf87263017915358230035f7fd3945d88965cf17"
	"f9af6e16886c61bfc703106fbaf3cb4cfa52382dd16a393e42757507698075b2"
	"c984c707f0a0812d8cd5a6881eaf21ceda98f4bd23f6fe1a3e2c43edd9ce7ca8"
	"4bed8521e2e140";

static const char CLIENT_CRYPTO[] =
	"060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868"
	"04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578"
	"616d706c652e636f6dff01000100000a00080006001d00170018001000070005"
	"04616c706e000500050100000000003300260024001d00209370b2c9caa47fba"
	"baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400"
	"0d0010000e0403050306030203080408050806002d00020101001c0002400100"
	"3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000"
	"75300901100f088394c8f03e51570806048000ffff";

static const char SERVER_PAYLOAD[] =
	"02000000000600405a020000560303eefce7f7b37ba1d1632e96677825ddf739"
	"88cfc79825df566dc5430b9a045a1200130100002e00330024001d00209d3c94"
	"0d89690b84d08a60993c144eca684d1081287c834d5311bcf32bb9da1a002b00"
	"020304";

/* Captured on this machine: Chromium 156's first two datagrams to an
 * ngtcp2 server (its hello spans them), and gtlsclient's resumed first
 * datagram (Initial + 0-RTT), both for names in a test certificate. */
static const char CHROMIUM_DGRAM1[] =
	"c00000000108d56ae6e43cb0ec96000044d068c4453e167954be3240d765e2a8"
	"fdf6f2e61170e54ca3ebe47056ce7411c3906115291d23e1d1bba0334391a5b0"
	"2d550ca815745142438b454c507a059f6af3889fe4fe42b71db5561448aa488d"
	"9db6ea26e6b6d7e9dd355b0b6cd43e236b815ce64d8cae9d8359e50d2f8d672e"
	"195d91b6b7f5f018735f39ff4a542434522906e4cbef5904ba80722895dd6bfb"
	"7d276a7d0c562f5b447c9fa2375726cce0a4ee3025048c32b4ed94712f4db8df"
	"f143c7f730c3ee1225a641b7d9065b26afa540c564fbc52659fba0851e0a4ab6"
	"021d03f280a660f3ab2955642658d68a14c3d2e2946871d732fd33576be3affd"
	"a87ce0c6444bd00daddd8e542250c4897c79b2bfd93aa79bc6bbf731e68ccdc7"
	"0001492a656362bfddf025b066769bd1823a7f6b8e4856efda3d5afdc6d65cad"
	"b65a4ff994b23f8913003724eb589e67ca13d2126bbcf84f3b1a52af07e64ae8"
	"d8d4dedd8ca81d2339520ca6dee4748dbd44b0fdba331271efa156a07bc1a971"
	"ef6fb5c82653dfa16feb7b1b3c187c8e89da76ff3612b922f756b6e69d81385e"
	"7ef664f4c03d87d12a4b502b52e060ee1904ae4e62179e407c8291802f5db15b"
	"553e6134f168792bb7432722060dabd815d2a7f562622d14fa3ab43a6ced762f"
	"ecbd7a3ec242150b8af90cc854b1dc72a2f85719cf06f05a10ee8075aa634d38"
	"9ed56d5e3df8de7606739b21666b557eda73ec188d5d203e0b9601955503b102"
	"906ef812bd0ca5549cbbb78c77cf8ef1455ec4e02137db1478c6b6cb2b9a3d7b"
	"f4755df6e80324ba5be30b2c401cdfea9f552d55e2c7c90c8d48c117d6fbc8b6"
	"edee173dee57a817406c0b5a336140880469fee814ba51c958e3d156e3f6e9f0"
	"65ba79fbe1e6cd284cf4564032705620c9949c149051fdce879ea5dae50203c2"
	"a5a94024b31514e131ef39685ac1c9d5b8d3854a462bb233d5b82d4d89fbfe2f"
	"075314aa4b766b95d3f0e2868256fc984534b20878ac3157c1da7928526e7a15"
	"544ae772db3f2e94893e6e16d017d3f0ac6fe4e1472c4d3f1c0585f5c50c51f4"
	"99113ab8b9dcb4026ad30f21f4c88594340be84ef58a7fe93223e3aef3116e26"
	"d729c829bc8ee8b29304e756c3c1419ad03a0d2c33dc8301d6cb0bc26ec0528c"
	"7647c4bdff8ab6a4ea5d712eb089c53dd631458086c33069b9945186ec2d244d"
	"2df87d5b9c2eacab6b9faa4f6834681a3616f577bff176ac268223305763e081"
	"46a7e5b8aad1607944b612e0a8a21727f7f61076301536b25a05c1f6af142406"
	"1f477d093c9f0ec25a8b2b472d5a3ed3e402136b9c41fba61ef94ea8c2e90cb1"
	"c4209ccf887eabd6cf42f2e1b21714d82f517acc742da532150d9f020a3eb521"
	"ce6e1520c2bc5e5e2fa1935614f4a3d267dd4471f9848d1cf6bdc42607a7fa4d"
	"c5a364c6c7595003b377152945bc52dc7a13ba78f2c9e3d204f76371f87caa01"
	"bfa4b272870fea1a1517e824408b76059bd5c9f6dc0d7729d00241a5e1ce999e"
	"05949ef068adfa67755d4c6f332432db858e205757afa7087eb46a11cac579e0"
	"6c4f5fb9fb7bfe0aae1e12c978e5161c7ceabecea0ba4bc6adef201a02c67470"
	"7b6eba3dd36563200ec6f670610cc092cbe2542fc5ca6bf4e245e336f3f6870a"
	"35603fd2a39fa877d8269d35c682e8810651f201262f8f9f9d433d61abb1a5be"
	"a06223809f9bb7d6fd7e243a03ca256874becbc2ba8a0930207c753b8da8e95f"
	"48d8";

static const char CHROMIUM_DGRAM2[] =
	"cd0000000108d56ae6e43cb0ec96000044d05cb140227bd9d1cf32f2bf8d4bac"
	"dcd0a8626065dc3bc641e0de3e4db7ba7db34207d6bb3e0b61fd881c3a769e63"
	"79d4e85c00e831eee21e603d0703973d15605e2d505c7ca9c29fb8e531a788c2"
	"cc3455162129731e4ee61ac4a66dcfc15522ec12233e64fa4be817f88d3ccae6"
	"b21aa18c60406d68985ee1df52c9db8dafc5c6a3bd830baf0bd6ca880d8855fb"
	"7b415a83eb8bacb502d3c608a1ea014b14f2eae6029526ffd21f75b52ac01447"
	"5453af0dd77b724189b7dc1c5d78fc983f65ea782fabeba53f6a0f654d1e0d4d"
	"189d12b60da37d3204f8640f2548ec0d2a9570f6eb86f1ad65f7270dd71918ee"
	"79a1e449459971df0f4e4c8e96a0ee942b18dc4adf81c25034bc77f18a1d36b5"
	"00d0dc8ab2a4b92f30fd121d743401725f1e8a21cd9f701eed97afa2eee92322"
	"be24ee7cc711e913f5a3670735378eeba70d83bf9b0cb72d2e06118fa20a47d6"
	"d604ae70f5c888324d9a7c67a6123cbf3a71dab975d23202ce5f3b49c53941c9"
	"58b96b9af6ea45e970ed3af751448b9cdc08b6fb0a2db878511c5f8797ef2287"
	"bdc1957dd7e6c27ba57faae8b4e0598f6c7d9741bc60d520aba7d5e43f8f82e5"
	"08848fe9ca2468c5b012eb67acc5443e7e22f9d882cabf42558c3122a4124112"
	"d34caa3541ae891fe9ad33d25cad4b65117cd8884a29cb24f2401c7389efaf73"
	"6d41afe3fd82ce1459082f46a378eaa9bb82c7d65e050c407d182de1599991c7"
	"71be23800b9c364afc5de3db006bb086197e2c0d0e6766f868603be135ca5abc"
	"d9755f87f503f3ffb0f603e448665a81a79dfc6f89fcd6913430895a0688afe8"
	"ee840e82fd2777b7910f3058f1910dcd1886de9a0aaa4caa3d188bbb39785294"
	"1b3ad97b0c525568ca853cd1dcb5abd31cce146f8ea253091066113586435217"
	"a8f75d5e0f3f9a0de6cee6bb9cf725e477ff1472f7be28a3a1d9f9cbbb88c42a"
	"3a77995e835c3793b405f399b1d8676704a438b89b5f2ebf9dcbf9cdf0de7889"
	"a519f0f2c0b84aca182d778d2681b1972a0e0469243f01116202266aff65fa61"
	"099c0e09734ce480020fb5ec8a6967f228786e8dfc85749af662abdff2ec1405"
	"74d9124dd66efccd5e7480a57be908a21f1da2380db9ae39c406ffa75567b9e4"
	"dfe855e1e3227634f35f0096d1e9206d855b1eb9779f1ee3d41a9a32eb558416"
	"f9c6c61b173ea3948278f68e9224f64b2ef686a20dcfad1c78a35a5125bf5c55"
	"9104c791e2170cf2f757a3c1e09b4378447d2e6e24bed62e8ba0de83a6257dd9"
	"4ee970769cdb01a6855ab50f9d2f061e4b39ba684c0be114a494054458b9fc15"
	"2b96a514ff3096c89e88b9ace6e4acc5a8e8e8f4626981b5f9a2431c95876369"
	"a2d909dfb8225df1c92d294979df4eb49661f8f83f4ea490ef4a9383dde9e538"
	"79e6986ab541340e28c7e63dd77bc68abf85ae41f89007b06d2513e657a0831b"
	"9ec9b79ff0acaefd16427c91f752ef98fe1375177a9d06cdc2deddc163a25cdc"
	"2923310c03cc36a2ab89eded0b2d6bedb7af1b9c32adf31b537145757eb4307f"
	"b51f8dfea48325453bcd3c15f7db17a12396c261dee0ce27a0c98a8920981e2e"
	"ecb959bb3ace808cd7c8a414126e8fc5813f7f8779c1ea08b8a114ced1d544c2"
	"66b583527f8024fcdbffc97370436448bc5c5a5d402eb9a1e39def0b50ffe5ba"
	"51cad850734516b8bfac63fcee31a5034c78067c057cdbc2e3d36f9d9d4fdb15"
	"9227";

static const char NGTCP2_0RTT_DGRAM[] =
	"c700000001121114cbf26382b79ee0e40d225fd203298bb011dcd1d649c7c18a"
	"4b8cf2bc9a490e23050d0080000291a90b0525c069528f08f872a04e54694ba2"
	"e664ab45b0fbfb686d9191eaa53c945f1f63f8d45ede0a383f7af26b7f251c70"
	"58b5699f1cf63ff788984b8735a2de6071f2f2ee3e1c0546de49a819e4a8631c"
	"af08297b592aca8d23da42b74f4e1b2dced887e1a14f91e90c5442e9bfe287f9"
	"e0aa872bad410f2cd6d16fc21634c37a36d61c4af1fd65a66c3fe6f72c83adf4"
	"3fbe3bd458a3c43e7f0dea5b461a0b996a953ae46710e10f7d76c062e20653e7"
	"0fb70ca042f2ed1d79946781147e3321f2b29333c1e32858b5fb60fc12c7efbe"
	"105560c3c9279ed6d1faf6e9b888c4bdb704c947767cfc424edd98d5ce7cc7d3"
	"3d8a6ad21c67d722f92b08f000aaa809e0de020700024a52a5588ab27a2dfb51"
	"d1087183dc123198b259922e5e5b2fc1ac7f80b7a8a6bbb8509a1a77b71bf51a"
	"2c734f896a5b870071deac8b8b8df9fad0c8afe75cd452906734335f211e297a"
	"481b74fe4b375646aab257e1bfcece7c904ef1113bddb2d72ecb2293c7cc18e6"
	"cfc73ba8661d099fdb74f4cb93bd0192d5a7acf14ed95b59a217a694a8bd0874"
	"02eff9e798b62ffb301277bfd427cda0b77cc0bb6240068586d88cc6c939383c"
	"78ba9ac949c0537eb4f48bfd6926df98a17311088cb577ff12ead44e05ba9a21"
	"9d70bdf20a68a615ec46a9574562bd67ecbb2570d048c9d1a460b310cd983e56"
	"d7190c142a74e7789ae23635d3cb5bb83041ba4217d9361f600b8cc090b06e1e"
	"a42f1ce178114b6368c4325b74d7600da75814ddcbacf22d48f24644db320baa"
	"73c3f32607b416ac1f5e0d44983f4e9203418c1ddec9e5f78b283869c590adaa"
	"089161dca123f146d7658a4e16dfbd6668c43d5d1ff6356fe6c6cf1ecde4ff17"
	"dd09d8a706f02e3dbdb21c862d6e079f79be7abe2526764f5b88d7dae8f9228e"
	"dd00000001121114cbf26382b79ee0e40d225fd203298bb011dcd1d649c7c18a"
	"4b8cf2bc9a490e23050d800001c2a0042d372a67edea8bc2742cc1cd2d175d66"
	"8e9b0c9f4dbd5ae516451a74141141b56a72d00cd1de933b633959d1720b7458"
	"7f0d1b7deefc8fccfdc343cf04acbe55e95d31af03fc945731dc3f3619c29787"
	"dd528445c939cf8f5a12c3c00b78c63b9e84db4cb4ce9c104d0be9b093e0f6f7"
	"a97b0a4929aa4b90e59b6d09eb2e42164a3f6702702c4636492ed9cd618f7153"
	"5fc524c3498d358e289873e631f3d356c2d34ed84e919ca64aff9e4e2250a21e"
	"9ac374d5951beb2e4740e33dbbaffd75f72043d8174646ebe21bec4ca3a6aec9"
	"c02c93ded45258f733b32b70cf78f617738ea34cef73edfc083aca32b6c7b61d"
	"fb32929bb2bbc2b582742417234b89a9d4a3d63559d1fad72e5403987f7905a8"
	"08f80968c418054cc8505ccc2de0e87ddc018f147da6bab24260d9e8df7b69f7"
	"a557cfd69e3ea32bbcc99085814220710fd954b8e2658da517aa7a7914309135"
	"beaed984475ec2ccdeebf8ce5754f58179a2d6e751939a194487bc7c24aee2db"
	"f08d1795ff901eb33fe1508b7bda9199f0ee78e1d346a3b28e60546bf6daef07"
	"289c57f862122d3fdda2867530137b5ecdac4c7790534e6bcd704e8160143c6d"
	"ac0b4a87711ce3ce1bc387b8e7485935";

static const char RFC_DCID[] = "8394c8f03e515708";

struct version_vectors {
	uint32_t version;
	const char *initial_secret;	/* shown only for v2's HKDF-Extract; v1 too */
	const char *client_secret, *client_key, *client_iv, *client_hp;
	const char *server_secret, *server_key, *server_iv, *server_hp;
	const char *client_prot, *server_prot;
	unsigned client_pn, server_pn;
};

static const struct version_vectors vectors[] = {
	{
		.version = QUIC_VERSION_1,
		.client_secret = "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea",
		.client_key = "1f369613dd76d5467730efcbe3b1a22d",
		.client_iv = "fa044b2f42a3fd3b46fb255c",
		.client_hp = "9f50449e04a0e810283a1e9933adedd2",
		.server_secret = "3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b",
		.server_key = "cf3a5331653c364c88f0f379b6067e37",
		.server_iv = "0ac1493ca1905853b0bba03e",
		.server_hp = "c206b8d9b9f0f37644430b490eeaa314",
		.client_prot = V1_CLIENT_PROT,
		.server_prot = V1_SERVER_PROT,
		.client_pn = 2,
		.server_pn = 1,
	},
	{
		.version = QUIC_VERSION_2,
		.client_secret = "14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b",
		.client_key = "8b1a0bc121284290a29e0971b5cd045d",
		.client_iv = "91f73e2351d8fa91660e909f",
		.client_hp = "45b95e15235d6f45a6b19cbcb0294ba9",
		.server_secret = "0263db1782731bf4588e7e4d93b7463907cb8cd8200b5da55a8bd488eafc37c1",
		.server_key = "82db637861d55e1d011f19ea71d5d2a7",
		.server_iv = "dd13c276499c0249d3310652",
		.server_hp = "edf6d05c83121201b436e16877593c3a",
		.client_prot = V2_CLIENT_PROT,
		.server_prot = V2_SERVER_PROT,
		.client_pn = 2,
		.server_pn = 1,
	},
};

/* ---- helpers ---- */

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	for (; s[0] && s[1]; s += 2) {
		unsigned v;

		ck_assert_int_eq(sscanf(s, "%2x", &v), 1);
		ck_assert_uint_lt(n, cap);
		out[n++] = (uint8_t)v;
	}
	return n;
}

static void assert_hex(const uint8_t *got, size_t n, const char *want)
{
	uint8_t w[2048];
	size_t wn = unhex(want, w, sizeof(w));

	ck_assert_uint_eq(n, wn);
	ck_assert_mem_eq(got, w, n);
}

static struct quic_crypto *crypto(void)
{
	struct quic_crypto *c = quic_crypto_new();

	ck_assert_ptr_nonnull(c);
	return c;
}

static struct quic_flow_hello *new_flow(void)
{
	struct quic_flow_hello *f = malloc(sizeof(*f));

	ck_assert_ptr_nonnull(f);
	/* init must not depend on the memory it is given */
	memset(f, 0xa5, sizeof(*f));
	quic_flow_hello_init(f);
	return f;
}

static const uint8_t DCID[8] = { 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08 };
static const uint8_t SCID[5] = { 0xc1, 0x1e, 0x47, 0x5c, 0x1d };

struct dgram {
	uint8_t b[8192];
	size_t len;
};

/* frames of one packet under construction */
struct frames {
	uint8_t b[8192];
	size_t len;
};

static void fr_bytes(struct frames *f, const void *p, size_t n)
{
	ck_assert_uint_le(f->len + n, sizeof(f->b));
	memcpy(f->b + f->len, p, n);
	f->len += n;
}

static void fr_varint(struct frames *f, uint64_t v)
{
	uint8_t t[8];

	fr_bytes(f, t, quic_varint_write(t, v));
}

static void fr_crypto(struct frames *f, uint64_t off, const uint8_t *p, size_t n)
{
	fr_varint(f, 0x06);
	fr_varint(f, off);
	fr_varint(f, n);
	fr_bytes(f, p, n);
}

/*
 * A client Initial carrying fr, padded with PADDING to a 1200-byte
 * datagram (or left as it is when pad is false), appended to d.
 */
static void add_initial(struct quic_crypto *c, struct dgram *d, uint32_t version,
			const uint8_t *dcid, size_t dcid_len, uint64_t pn,
			const struct frames *fr, bool pad)
{
	struct quic_keys k;
	struct frames p = *fr;
	struct quic_packet_spec s = {
		.version = version, .type = QUIC_PT_INITIAL,
		.dcid = dcid, .dcid_len = dcid_len, .scid = SCID, .scid_len = sizeof(SCID),
		.pn = pn, .pn_len = 2,
	};

	ck_assert(quic_initial_keys(c, version, dcid, dcid_len, false, &k));
	/* header: 1 + 4 + 1 + dcid + 1 + scid + token 1 + length 2 + pn 2 */
	size_t over = 1 + 4 + 1 + dcid_len + 1 + sizeof(SCID) + 1 + 2 + 2 + QUIC_TAG_LEN;
	while (pad && d->len + over + p.len < QUIC_MIN_INITIAL_DATAGRAM)
		p.b[p.len++] = 0;
	/* enough to sample for header protection */
	while (p.len < 2)
		p.b[p.len++] = 0;
	size_t n = quic_packet_seal(c, &k, &s, p.b, p.len, d->b + d->len, sizeof(d->b) - d->len);
	ck_assert_uint_gt(n, 0);
	d->len += n;
}

/* ---- the RFC vectors ---- */

START_TEST(test_rfc_keys)
{
	const struct version_vectors *v = &vectors[_i];
	struct quic_crypto *c = crypto();
	uint8_t dcid[8], secret[QUIC_SECRET_LEN];
	struct quic_keys k;

	unhex(RFC_DCID, dcid, sizeof(dcid));
	ck_assert(quic_initial_secret(c, v->version, dcid, 8, false, secret));
	assert_hex(secret, sizeof(secret), v->client_secret);
	ck_assert(quic_keys_from_secret(c, v->version, secret, &k));
	assert_hex(k.key, sizeof(k.key), v->client_key);
	assert_hex(k.iv, sizeof(k.iv), v->client_iv);
	assert_hex(k.hp, sizeof(k.hp), v->client_hp);

	ck_assert(quic_initial_keys(c, v->version, dcid, 8, true, &k));
	ck_assert(quic_initial_secret(c, v->version, dcid, 8, true, secret));
	assert_hex(secret, sizeof(secret), v->server_secret);
	assert_hex(k.key, sizeof(k.key), v->server_key);
	assert_hex(k.iv, sizeof(k.iv), v->server_iv);
	assert_hex(k.hp, sizeof(k.hp), v->server_hp);

	/* no salt, no keys */
	ck_assert(!quic_initial_keys(c, 0xff00001du, dcid, 8, false, &k));
	quic_crypto_free(c);
}
END_TEST

/* the header protection mask of A.2 (v1) and RFC 9369 A.2 */
START_TEST(test_rfc_hp_mask)
{
	static const char *sample[] = { "d1b1c98dd7689fb8ec11d242b123dc9b",
					"ffe67b6abcdb4298b485dd04de806071" };
	static const char *mask[] = { "437b9aec36", "94a0c95e80" };
	const struct version_vectors *v = &vectors[_i];
	struct quic_crypto *c = crypto();
	uint8_t hp[16], s[16], m[5];

	unhex(v->client_hp, hp, sizeof(hp));
	unhex(sample[_i], s, sizeof(s));
	ck_assert(quic_hp_mask(c, hp, s, m));
	assert_hex(m, 5, mask[_i]);
	quic_crypto_free(c);
}
END_TEST

START_TEST(test_rfc_client_initial)
{
	const struct version_vectors *v = &vectors[_i];
	struct quic_crypto *c = crypto();
	uint8_t pkt[1200], want[1162] = { 0 }, again[1300];
	struct quic_long_header h;
	struct quic_opened o;
	struct quic_keys k;
	enum quic_error e;

	ck_assert_uint_eq(unhex(v->client_prot, pkt, sizeof(pkt)), 1200);
	ck_assert_int_eq(quic_long_header_parse(pkt, 1200, &h, &e), QUIC_DONE);
	ck_assert_uint_eq(h.version, v->version);
	ck_assert_int_eq(h.type, QUIC_PT_INITIAL);
	ck_assert_uint_eq(h.dcid_len, 8);
	assert_hex(h.dcid, h.dcid_len, RFC_DCID);
	ck_assert_uint_eq(h.scid_len, 0);
	ck_assert_uint_eq(h.token_len, 0);
	ck_assert_uint_eq(h.pn_off, 18);
	ck_assert_uint_eq(h.end, 1200);

	ck_assert(quic_initial_keys(c, v->version, h.dcid, h.dcid_len, false, &k));
	ck_assert_int_eq(quic_packet_open(c, &k, pkt, &h, 0, &o), QUIC_E_NONE);
	ck_assert_uint_eq(o.pn, v->client_pn);
	ck_assert_uint_eq(o.pn_len, 4);
	ck_assert_uint_eq(o.payload_len, 1162);
	unhex(CLIENT_CRYPTO, want, sizeof(want));
	ck_assert_mem_eq(o.payload, want, 1162);

	/* sealing the same payload gives the RFC's packet byte for byte */
	struct quic_packet_spec s = {
		.version = v->version, .type = QUIC_PT_INITIAL,
		.dcid = h.dcid, .dcid_len = 8, .pn = v->client_pn, .pn_len = 4,
	};
	ck_assert_uint_eq(quic_packet_seal(c, &k, &s, want, 1162, again, sizeof(again)), 1200);
	ck_assert_mem_eq(again, pkt, 1200);

	/* and the whole path finds the name */
	struct quic_flow_hello *f = new_flow();
	struct quic_dgram_info info;

	ck_assert_int_eq(quic_hello_feed(c, f, pkt, 1200, &info), QUIC_DONE);
	ck_assert_str_eq(f->hello.sni, "example.com");
	ck_assert_uint_eq(f->hello.wire_len, 0xf1);
	ck_assert_uint_eq(f->version, v->version);
	ck_assert_uint_eq(f->dcid_len, 8);
	ck_assert_uint_eq(f->scid_len, 0);
	ck_assert_uint_eq(f->token_len, 0);
	ck_assert_uint_eq(f->pn_len, 4);
	ck_assert_uint_eq(f->next_pn, v->client_pn + 1);
	ck_assert_uint_eq(f->datagrams, 1);
	ck_assert_uint_eq(info.packets, 1);
	ck_assert_uint_eq(info.end[0], 1200);
	ck_assert_uint_eq(info.rest, 1200);
	ck_assert_uint_eq(info.initials, 1);
	free(f);
	quic_crypto_free(c);
}
END_TEST

START_TEST(test_rfc_server_initial)
{
	const struct version_vectors *v = &vectors[_i];
	struct quic_crypto *c = crypto();
	uint8_t pkt[135], want[99], again[200], dcid[8];
	struct quic_long_header h;
	struct quic_opened o;
	struct quic_keys k;
	struct quic_frames fr;
	struct quic_crypto_stream *s = malloc(sizeof(*s));
	enum quic_error e;

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(unhex(v->server_prot, pkt, sizeof(pkt)), 135);
	ck_assert_uint_eq(unhex(SERVER_PAYLOAD, want, sizeof(want)), 99);
	ck_assert_int_eq(quic_long_header_parse(pkt, 135, &h, &e), QUIC_DONE);
	ck_assert_int_eq(h.type, QUIC_PT_INITIAL);
	ck_assert_uint_eq(h.dcid_len, 0);
	assert_hex(h.scid, h.scid_len, "f067a5502a4262b5");
	ck_assert_uint_eq(h.end, 135);

	/* server keys come from the client's DCID, not from this header */
	unhex(RFC_DCID, dcid, sizeof(dcid));
	ck_assert(quic_initial_keys(c, v->version, dcid, 8, true, &k));
	ck_assert_int_eq(quic_packet_open(c, &k, pkt, &h, 0, &o), QUIC_E_NONE);
	ck_assert_uint_eq(o.pn, v->server_pn);
	ck_assert_uint_eq(o.pn_len, 2);
	ck_assert_uint_eq(o.payload_len, 99);
	ck_assert_mem_eq(o.payload, want, 99);
	quic_stream_init(s);
	ck_assert_int_eq(quic_frames_walk(o.payload, o.payload_len, s, &fr), QUIC_E_NONE);
	ck_assert_uint_eq(fr.ack, 1);
	ck_assert_uint_eq(fr.crypto, 1);
	ck_assert_uint_eq(s->contiguous, 0x5a);
	ck_assert_uint_eq(s->data[0], 2);	/* ServerHello */

	struct quic_packet_spec sp = {
		.version = v->version, .type = QUIC_PT_INITIAL,
		.scid = h.scid, .scid_len = h.scid_len, .pn = v->server_pn, .pn_len = 2,
	};
	ck_assert_uint_eq(quic_packet_seal(c, &k, &sp, want, 99, again, sizeof(again)), 135);
	ck_assert_mem_eq(again, pkt, 135);

	/* the client keys cannot open it */
	ck_assert(quic_initial_keys(c, v->version, dcid, 8, false, &k));
	ck_assert_int_eq(quic_packet_open(c, &k, pkt, &h, 0, &o), QUIC_E_DECRYPT);
	free(s);
	quic_crypto_free(c);
}
END_TEST

/* the same bytes under the other version's keys do not open */
START_TEST(test_rfc_wrong_version_keys)
{
	struct quic_crypto *c = crypto();
	uint8_t pkt[1200];
	struct quic_long_header h;
	struct quic_opened o;
	struct quic_keys k;
	enum quic_error e;

	unhex(V1_CLIENT_PROT, pkt, sizeof(pkt));
	ck_assert_int_eq(quic_long_header_parse(pkt, 1200, &h, &e), QUIC_DONE);
	ck_assert(quic_initial_keys(c, QUIC_VERSION_2, h.dcid, h.dcid_len, false, &k));
	ck_assert_int_eq(quic_packet_open(c, &k, pkt, &h, 0, &o), QUIC_E_DECRYPT);
	quic_crypto_free(c);
}
END_TEST

/* ---- the raw handshake parser on the RFC hello ---- */

START_TEST(test_raw_handshake_prefixes)
{
	uint8_t fr[245], buf[300];
	struct tls_hello h;

	unhex(CLIENT_CRYPTO, fr, sizeof(fr));
	/* frame: 06 00 40f1, then 0xf1 bytes of handshake */
	const uint8_t *hs = fr + 4;
	size_t n = 0xf1;

	ck_assert_int_eq(tls_hello_parse_handshake(hs, n, &h), TLS_HELLO_DONE);
	ck_assert_str_eq(h.sni, "example.com");
	ck_assert_uint_eq(h.wire_len, n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(tls_hello_parse_handshake(hs, i, &h), TLS_HELLO_NEED_MORE);
		/* once the length is read, need is the hello's length */
		ck_assert_uint_eq(h.need, (i >= 4 ? n : 4 + 41));
	}
	memcpy(buf, hs, n);
	buf[n] = 0;
	ck_assert_int_eq(tls_hello_parse_handshake(buf, n + 1, &h), TLS_HELLO_INVALID);
	ck_assert_int_eq(h.error, TLS_HELLO_E_TRAILING);
	/* a record header is not a handshake header */
	ck_assert_int_eq(tls_hello_parse_handshake((const uint8_t *)"\x16\x03\x01\x00\xf1", 5, &h),
			 TLS_HELLO_INVALID);
	ck_assert_int_eq(h.error, TLS_HELLO_E_NOT_CLIENT_HELLO);
}
END_TEST

/* ---- a real ClientHello from libssl ---- */

#define EXT_PAD 0xfa42u

static int pad_add(SSL *s, unsigned int type, unsigned int context, const unsigned char **out,
		   size_t *outlen, X509 *x, size_t chainidx, int *al, void *arg)
{
	static unsigned char pad[1500];

	(void)s, (void)type, (void)context, (void)x, (void)chainidx, (void)al, (void)arg;
	memset(pad, 0x5a, sizeof(pad));
	*out = pad;
	*outlen = sizeof(pad);
	return 1;
}

/* handshake bytes of a TLS 1.3 ClientHello for sni, ~1.8 KB: libssl 3.0
 * has no ML-KEM share, so an unassigned extension stands in for its size */
static size_t libssl_hello(const char *sni, uint8_t *out, size_t cap)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION), 1);
	ck_assert_int_eq(SSL_CTX_add_custom_ext(ctx, EXT_PAD, SSL_EXT_CLIENT_HELLO, pad_add,
						NULL, NULL, NULL, NULL), 1);
	SSL *s = SSL_new(ctx);
	BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());

	char name[256];

	/* a writable copy: the macro casts away const (clang -Wcast-qual) */
	snprintf(name, sizeof(name), "%s", sni);
	ck_assert_int_eq(SSL_set_tlsext_host_name(s, name), 1);
	ck_assert_int_eq(SSL_set_alpn_protos(s, (const unsigned char *)"\x02h3", 3), 0);
	SSL_set_bio(s, rb, wb);
	SSL_set_connect_state(s);
	ck_assert_int_eq(SSL_do_handshake(s), -1);

	char *data;
	long wn = BIO_get_mem_data(wb, &data);
	size_t n = 0;

	/* strip the record headers */
	for (long at = 0; at < wn;) {
		ck_assert_int_ge(wn - at, 5);
		size_t rl = (size_t)(uint8_t)data[at + 3] << 8 | (uint8_t)data[at + 4];

		ck_assert_uint_eq((uint8_t)data[at], 22);
		ck_assert_uint_le(n + rl, cap);
		memcpy(out + n, data + at + 5, rl);
		n += rl;
		at += 5 + (long)rl;
	}
	SSL_free(s);
	SSL_CTX_free(ctx);
	return n;
}

static const char HELLO_SNI[] = "quic.example.test";

START_TEST(test_libssl_hello_whole)
{
	struct quic_crypto *c = crypto();
	uint8_t hs[4096];
	size_t n = libssl_hello(HELLO_SNI, hs, sizeof(hs));
	struct quic_flow_hello *f = new_flow();
	struct frames fr = { .len = 0 };
	struct dgram d = { .len = 0 };

	ck_assert_uint_gt(n, 1700);
	fr_crypto(&fr, 0, hs, n);
	add_initial(c, &d, QUIC_VERSION_1, DCID, sizeof(DCID), 0, &fr, true);
	ck_assert_int_eq(quic_hello_feed(c, f, d.b, d.len, NULL), QUIC_DONE);
	ck_assert_str_eq(f->hello.sni, HELLO_SNI);
	ck_assert_uint_eq(f->hello.wire_len, n);
	free(f);
	quic_crypto_free(c);
}
END_TEST

/*
 * Every split point: [0, k) in one datagram, [k, n) in the other, sent in
 * both orders; the first must wait, the second must finish.
 */
START_TEST(test_split_every_point)
{
	struct quic_crypto *c = crypto();
	uint8_t hs[4096];
	size_t n = libssl_hello(HELLO_SNI, hs, sizeof(hs));
	struct quic_flow_hello *f = new_flow();
	uint32_t version = _i ? QUIC_VERSION_2 : QUIC_VERSION_1;

	for (size_t k = 1; k < n; k++) {
		struct frames a = { .len = 0 }, b = { .len = 0 };
		struct dgram da = { .len = 0 }, db = { .len = 0 };

		fr_crypto(&a, 0, hs, k);
		fr_crypto(&b, k, hs + k, n - k);
		add_initial(c, &da, version, DCID, sizeof(DCID), 0, &a, true);
		add_initial(c, &db, version, DCID, sizeof(DCID), 1, &b, true);
		for (int order = 0; order < 2; order++) {
			const struct dgram *first = order ? &db : &da, *second = order ? &da : &db;

			quic_flow_hello_init(f);
			ck_assert_msg(quic_hello_feed(c, f, first->b, first->len, NULL) == QUIC_NEED_MORE,
				      "k=%zu order=%d: %s", k, order, quic_error_str(f->error));
			ck_assert_msg(quic_hello_feed(c, f, second->b, second->len, NULL) == QUIC_DONE,
				      "k=%zu order=%d: %s", k, order, quic_error_str(f->error));
			ck_assert_str_eq(f->hello.sni, HELLO_SNI);
			ck_assert_uint_eq(f->datagrams, 2);
		}
	}
	free(f);
	quic_crypto_free(c);
}
END_TEST

static uint32_t rng_state;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/*
 * Cut the hello at random points into 2..20 pieces, grow some pieces so
 * they overlap their neighbours (with the same bytes), shuffle, and deal
 * them over two Initials with PING and PADDING between; the piece holding
 * the last byte goes in the second datagram so the first must wait.
 */
START_TEST(test_shuffled_two_datagrams)
{
	struct quic_crypto *c = crypto();
	uint8_t hs[4096];
	size_t n = libssl_hello(HELLO_SNI, hs, sizeof(hs));
	struct quic_flow_hello *f = new_flow();

	rng_state = 0x9e3779b9u;
	for (int round = 0; round < 300; round++) {
		size_t cuts[21], npieces = 2 + rng() % 19;
		struct { size_t off, len; } piece[20];

		cuts[0] = 0;
		cuts[npieces] = n;
		for (size_t i = 1; i < npieces; i++)
			cuts[i] = 1 + rng() % (n - 1);
		/* sort the inner cuts */
		for (size_t i = 1; i < npieces; i++)
			for (size_t j = i + 1; j < npieces; j++)
				if (cuts[j] < cuts[i]) {
					size_t t = cuts[i];
					cuts[i] = cuts[j];
					cuts[j] = t;
				}
		for (size_t i = 0; i < npieces; i++) {
			size_t off = cuts[i], end = cuts[i + 1];

			size_t grow = rng() % 40;

			if (rng() % 3 == 0)
				off = off > grow ? off - grow : 0;
			if (rng() % 3 == 0)
				end = end + grow < n ? end + grow : n;
			piece[i].off = off;
			piece[i].len = end - off;
		}
		/* shuffle all but the last piece, which goes second */
		for (size_t i = npieces - 1; i > 1; i--) {
			size_t j = rng() % i, to = i - 1;
			__typeof__(piece[0]) t = piece[to];

			piece[to] = piece[j];
			piece[j] = t;
		}
		struct frames a = { .len = 0 }, b = { .len = 0 };

		for (size_t i = 0; i < npieces; i++) {
			bool second = i == npieces - 1 || rng() % 2;
			struct frames *fr = second ? &b : &a;

			/* the last byte only ever travels in b */
			if (!second && piece[i].off + piece[i].len == n)
				fr = &b;
			if (rng() % 4 == 0)
				fr_varint(fr, 0x01);	/* PING */
			if (rng() % 4 == 0)
				fr_bytes(fr, "\0\0\0", 3);	/* PADDING */
			fr_crypto(fr, piece[i].off, hs + piece[i].off, piece[i].len);
		}
		if (a.len == 0)
			fr_varint(&a, 0x01);
		struct dgram da = { .len = 0 }, db = { .len = 0 };

		add_initial(c, &da, QUIC_VERSION_1, DCID, sizeof(DCID), 0, &a, true);
		add_initial(c, &db, QUIC_VERSION_1, DCID, sizeof(DCID), 1, &b, true);
		quic_flow_hello_init(f);
		ck_assert_msg(quic_hello_feed(c, f, da.b, da.len, NULL) == QUIC_NEED_MORE,
			      "round %d: first: %s (%s)", round, quic_error_str(f->error),
			      tls_hello_error_str(f->hello.error));
		ck_assert_msg(quic_hello_feed(c, f, db.b, db.len, NULL) == QUIC_DONE,
			      "round %d: second: %s (%s)", round, quic_error_str(f->error),
			      tls_hello_error_str(f->hello.error));
		ck_assert_str_eq(f->hello.sni, HELLO_SNI);
	}
	free(f);
	quic_crypto_free(c);
}
END_TEST

/* ---- real clients' datagrams ---- */

/* Chromium's hello spans its first two datagrams: either order works */
START_TEST(test_chromium_two_datagrams)
{
	struct quic_crypto *c = crypto();
	struct quic_flow_hello *f = new_flow();
	uint8_t d1[1250], d2[1250];
	struct quic_dgram_info info;

	ck_assert_uint_eq(unhex(CHROMIUM_DGRAM1, d1, sizeof(d1)), 1250);
	ck_assert_uint_eq(unhex(CHROMIUM_DGRAM2, d2, sizeof(d2)), 1250);
	for (int order = 0; order < 2; order++) {
		quic_flow_hello_init(f);
		ck_assert_int_eq(quic_hello_feed(c, f, order ? d2 : d1, 1250, &info), QUIC_NEED_MORE);
		ck_assert_uint_eq(info.initials, 1);
		ck_assert_int_eq(quic_hello_feed(c, f, order ? d1 : d2, 1250, &info), QUIC_DONE);
		ck_assert_str_eq(f->hello.sni, "quic.example.test");
		ck_assert_uint_gt(f->hello.wire_len, 1800);
		ck_assert_uint_eq(f->version, QUIC_VERSION_1);
		ck_assert_uint_eq(f->next_pn, 3);	/* it numbered them 1 and 2 */
		ck_assert_uint_eq(f->datagrams, 2);
	}
	/* the second alone is not enough */
	quic_flow_hello_init(f);
	ck_assert_int_eq(quic_hello_feed(c, f, d2, 1250, NULL), QUIC_NEED_MORE);
	free(f);
	quic_crypto_free(c);
}
END_TEST

/* gtlsclient resuming: Initial and 0-RTT in one datagram */
START_TEST(test_ngtcp2_initial_0rtt)
{
	struct quic_crypto *c = crypto();
	struct quic_flow_hello *f = new_flow();
	uint8_t d[1200];
	struct quic_dgram_info info;

	ck_assert_uint_eq(unhex(NGTCP2_0RTT_DGRAM, d, sizeof(d)), 1200);
	ck_assert_int_eq(quic_hello_feed(c, f, d, sizeof(d), &info), QUIC_DONE);
	ck_assert_str_eq(f->hello.sni, "localhost");
	ck_assert_uint_eq(info.packets, 2);
	ck_assert_int_eq(info.type[0], QUIC_PT_INITIAL);
	ck_assert_int_eq(info.type[1], QUIC_PT_0RTT);
	ck_assert_uint_lt(info.end[0], 1200);
	ck_assert_uint_eq(info.end[1], 1200);
	ck_assert_uint_eq(info.rest, 1200);
	free(f);
	quic_crypto_free(c);
}
END_TEST

/* overlapping bytes that disagree end the flow, whatever comes later */
START_TEST(test_overlap_disagrees)
{
	struct quic_crypto *c = crypto();
	uint8_t hs[4096], bad[200];
	size_t n = libssl_hello(HELLO_SNI, hs, sizeof(hs));
	struct quic_flow_hello *f = new_flow();
	struct frames a = { .len = 0 }, b = { .len = 0 }, whole = { .len = 0 };
	struct dgram da = { .len = 0 }, db = { .len = 0 }, dw = { .len = 0 };

	memcpy(bad, hs + 50, 100);
	bad[25] ^= 1;		/* stream byte 75 */
	fr_crypto(&a, 0, hs, 100);
	fr_crypto(&b, 50, bad, 100);
	fr_crypto(&whole, 0, hs, n);
	add_initial(c, &da, QUIC_VERSION_1, DCID, sizeof(DCID), 0, &a, true);
	add_initial(c, &db, QUIC_VERSION_1, DCID, sizeof(DCID), 1, &b, true);
	add_initial(c, &dw, QUIC_VERSION_1, DCID, sizeof(DCID), 2, &whole, true);
	ck_assert_int_eq(quic_hello_feed(c, f, da.b, da.len, NULL), QUIC_NEED_MORE);
	ck_assert_int_eq(quic_hello_feed(c, f, db.b, db.len, NULL), QUIC_INVALID);
	ck_assert_int_eq(f->error, QUIC_E_CRYPTO_MISMATCH);
	ck_assert(f->failed);
	ck_assert_int_eq(quic_hello_feed(c, f, dw.b, dw.len, NULL), QUIC_INVALID);

	/* the same disagreement inside one packet */
	struct frames both = { .len = 0 };
	struct dgram d2 = { .len = 0 };

	fr_crypto(&both, 50, bad, 100);
	fr_crypto(&both, 0, hs, 100);
	add_initial(c, &d2, QUIC_VERSION_1, DCID, sizeof(DCID), 0, &both, true);
	quic_flow_hello_init(f);
	ck_assert_int_eq(quic_hello_feed(c, f, d2.b, d2.len, NULL), QUIC_INVALID);
	ck_assert_int_eq(f->error, QUIC_E_CRYPTO_MISMATCH);
	free(f);
	quic_crypto_free(c);
}
END_TEST

/* ---- coalesced packets ---- */

/* a 0-RTT packet of the flow: only its clear header matters here */
static void add_0rtt_to(struct quic_crypto *c, struct dgram *d, uint32_t version,
		       const uint8_t *dcid, size_t dcid_len)
{
	struct quic_keys k;
	uint8_t junk[60];
	struct quic_packet_spec s = {
		.version = version, .type = QUIC_PT_0RTT,
		.dcid = dcid, .dcid_len = dcid_len, .scid = SCID, .scid_len = sizeof(SCID),
		.pn = 0, .pn_len = 1,
	};

	/* any keys: nobody here can or should open it */
	memset(&k, 7, sizeof(k));
	memset(junk, 0x42, sizeof(junk));
	size_t n = quic_packet_seal(c, &k, &s, junk, sizeof(junk), d->b + d->len,
				    sizeof(d->b) - d->len);
	ck_assert_uint_gt(n, 0);
	d->len += n;
}

static void add_0rtt(struct quic_crypto *c, struct dgram *d, uint32_t version)
{
	add_0rtt_to(c, d, version, DCID, sizeof(DCID));
}

START_TEST(test_coalesced_initial_0rtt)
{
	struct quic_crypto *c = crypto();
	uint32_t version = _i ? QUIC_VERSION_2 : QUIC_VERSION_1;
	uint8_t hs[4096];
	size_t n = libssl_hello(HELLO_SNI, hs, sizeof(hs));
	struct quic_flow_hello *f = new_flow();
	struct quic_dgram_info info;
	struct frames a = { .len = 0 }, b = { .len = 0 };
	struct dgram d = { .len = 0 }, d2 = { .len = 0 }, z = { .len = 0 };

	/* datagram 1: Initial (first half, unpadded) + 0-RTT + 0-RTT,
	 * then short-header bytes to fill 1200 */
	fr_crypto(&a, 0, hs, 800);
	add_initial(c, &d, version, DCID, sizeof(DCID), 0, &a, false);
	size_t e0 = d.len;
	add_0rtt(c, &d, version);
	size_t e1 = d.len;
	add_0rtt(c, &d, version);
	size_t e2 = d.len;
	/* a packet for another connection ends the walk (RFC 9000 §12.2) */
	static const uint8_t stranger[3] = { 7, 7, 7 };

	add_0rtt_to(c, &d, version, stranger, sizeof(stranger));
	ck_assert_uint_lt(d.len, 1200);
	memset(d.b + d.len, 0x40, 1200 - d.len);	/* short header form */
	d.len = 1200;

	ck_assert_int_eq(quic_hello_feed(c, f, d.b, d.len, &info), QUIC_NEED_MORE);
	ck_assert_uint_eq(info.packets, 3);
	ck_assert_uint_eq(info.initials, 1);
	ck_assert_uint_eq(info.end[0], e0);
	ck_assert_uint_eq(info.end[1], e1);
	ck_assert_uint_eq(info.end[2], e2);
	ck_assert_int_eq(info.type[0], QUIC_PT_INITIAL);
	ck_assert_int_eq(info.type[1], QUIC_PT_0RTT);
	ck_assert_int_eq(info.type[2], QUIC_PT_0RTT);
	ck_assert_uint_eq(info.rest, e2);

	/* a 0-RTT-only datagram of the started flow waits, opens nothing */
	add_0rtt(c, &z, version);
	ck_assert_int_eq(quic_hello_feed(c, f, z.b, z.len, &info), QUIC_NEED_MORE);
	ck_assert_uint_eq(info.packets, 1);
	ck_assert_uint_eq(info.initials, 0);
	ck_assert_uint_eq(f->datagrams, 1);

	/* an Initial behind a 0-RTT in a small datagram is not opened: a
	 * server discards it (RFC 9000 §14.1), so it must not route */
	struct frames rest = { .len = 0 };
	struct dgram small = { .len = 0 };

	fr_crypto(&rest, 800, hs + 800, n - 800);
	add_0rtt(c, &small, version);
	add_initial(c, &small, version, DCID, sizeof(DCID), 1, &rest, false);
	ck_assert_uint_lt(small.len, 1200);
	ck_assert_int_eq(quic_hello_feed(c, f, small.b, small.len, &info), QUIC_NEED_MORE);
	ck_assert_uint_eq(info.packets, 1);
	ck_assert_uint_eq(info.initials, 0);

	/* datagram 2: the rest, then an Initial for another DCID (ignored) */
	fr_crypto(&b, 800, hs + 800, n - 800);
	add_initial(c, &d2, version, DCID, sizeof(DCID), 1, &b, false);
	size_t f0 = d2.len;
	struct frames junk = { .len = 0 };
	static const uint8_t other[4] = { 1, 2, 3, 4 };

	fr_crypto(&junk, 0, (const uint8_t *)"\x02", 1);	/* would fail the flow */
	add_initial(c, &d2, version, other, sizeof(other), 2, &junk, true);
	ck_assert_int_eq(quic_hello_feed(c, f, d2.b, d2.len, &info), QUIC_DONE);
	ck_assert_uint_eq(info.packets, 1);
	ck_assert_uint_eq(info.end[0], f0);
	ck_assert_uint_eq(info.rest, f0);
	ck_assert_str_eq(f->hello.sni, HELLO_SNI);
	free(f);
	quic_crypto_free(c);
}
END_TEST

/* ---- the CONNECTION_CLOSE answer ---- */

START_TEST(test_close_unrecognized_name)
{
	const struct version_vectors *v = &vectors[_i];
	struct quic_crypto *c = crypto();
	uint8_t pkt[1200], out[1200];
	struct quic_flow_hello *f = new_flow();
	struct quic_long_header h;
	struct quic_opened o;
	struct quic_keys k;
	struct quic_frames fr;
	enum quic_error e;

	unhex(v->client_prot, pkt, sizeof(pkt));
	/* before any Initial there is nothing to answer */
	ck_assert_uint_eq(quic_close_build(c, f, 0x170, out, sizeof(out)), 0);
	ck_assert_int_eq(quic_hello_feed(c, f, pkt, sizeof(pkt), NULL), QUIC_DONE);

	size_t n = quic_close_build(c, f, QUIC_CRYPTO_ERROR(QUIC_ALERT_UNRECOGNIZED_NAME),
				    out, sizeof(pkt));
	/* first byte, version, CIDs (none and 8), token length, Length,
	 * packet number, CONNECTION_CLOSE (1 + 2 + 1 + 1), tag */
	ck_assert_uint_eq(n, 1 + 4 + 1 + 0 + 1 + 8 + 1 + 1 + 1 + 5 + 16);
	/* never more than the client sent: too small a cap builds nothing */
	ck_assert_uint_eq(quic_close_build(c, f, 0x170, out, n - 1), 0);

	/* it reads back through the same path, with the server's keys */
	ck_assert_int_eq(quic_long_header_parse(out, n, &h, &e), QUIC_DONE);
	ck_assert_uint_eq(h.version, v->version);
	ck_assert_int_eq(h.type, QUIC_PT_INITIAL);
	ck_assert_uint_eq(h.end, n);
	ck_assert_uint_eq(h.dcid_len, f->scid_len);	/* swapped */
	ck_assert_uint_eq(h.scid_len, 8);
	assert_hex(h.scid, 8, RFC_DCID);
	ck_assert_uint_eq(h.token_len, 0);
	ck_assert(quic_initial_keys(c, v->version, f->dcid, f->dcid_len, false, &k));
	ck_assert_int_eq(quic_packet_open(c, &k, out, &h, 0, &o), QUIC_E_DECRYPT);
	ck_assert(quic_initial_keys(c, v->version, f->dcid, f->dcid_len, true, &k));
	ck_assert_int_eq(quic_packet_open(c, &k, out, &h, 0, &o), QUIC_E_NONE);
	ck_assert_int_eq(quic_frames_walk(o.payload, o.payload_len, NULL, &fr), QUIC_E_NONE);
	ck_assert(fr.close);
	ck_assert_uint_eq(fr.close_error, 0x0170);
	ck_assert_uint_eq(fr.close_frame_type, 0x06);
	ck_assert_uint_eq(fr.crypto + fr.ack + fr.ping, 0);

	/* with a client SCID, the answer is addressed to it */
	struct frames one = { .len = 0 };
	struct dgram d = { .len = 0 };

	fr_varint(&one, 0x01);
	add_initial(c, &d, v->version, DCID, sizeof(DCID), 0, &one, true);
	quic_flow_hello_init(f);
	ck_assert_int_eq(quic_hello_feed(c, f, d.b, d.len, NULL), QUIC_NEED_MORE);
	n = quic_close_build(c, f, 0x170, out, d.len);
	ck_assert_int_eq(quic_long_header_parse(out, n, &h, &e), QUIC_DONE);
	ck_assert_uint_eq(h.dcid_len, sizeof(SCID));
	ck_assert_mem_eq(h.dcid, SCID, sizeof(SCID));
	ck_assert_mem_eq(h.scid, DCID, sizeof(DCID));
	free(f);
	quic_crypto_free(c);
}
END_TEST

/* ---- malformed Initials, each with its error ---- */

static struct quic_crypto *mc;
static struct quic_flow_hello *mf;

static void expect(const char *what, const uint8_t *b, size_t len, enum quic_status st,
		   enum quic_error e, bool fatal)
{
	quic_flow_hello_init(mf);
	enum quic_status got = quic_hello_feed(mc, mf, b, len, NULL);

	ck_assert_msg(got == st && mf->error == e && mf->failed == fatal,
		      "%s: status %d error \"%s\" failed %d; want %d \"%s\" %d", what, got,
		      quic_error_str(mf->error), mf->failed, st, quic_error_str(e), fatal);
	if (st != QUIC_NEED_MORE && !fatal)
		ck_assert_msg(!mf->started, "%s: a rejected datagram started the flow", what);
}

/* one padded Initial around these frames */
static void expect_frames(const char *what, const struct frames *fr, enum quic_error e)
{
	struct dgram d = { .len = 0 };

	add_initial(mc, &d, QUIC_VERSION_1, DCID, sizeof(DCID), 0, fr, true);
	expect(what, d.b, d.len, QUIC_INVALID, e, true);
}

/* re-protect pkt (a sealed Initial at d) with first-byte bits changed
 * under protection: the AEAD then authenticates them */
static void reseal_first_bits(struct dgram *d, uint8_t set)
{
	struct quic_long_header h;
	struct quic_opened o;
	struct quic_keys k;
	enum quic_error e;
	uint8_t mask[5], plain[8192], hdr[128];

	ck_assert_int_eq(quic_long_header_parse(d->b, d->len, &h, &e), QUIC_DONE);
	ck_assert(quic_initial_keys(mc, h.version, h.dcid, h.dcid_len, false, &k));
	ck_assert_int_eq(quic_packet_open(mc, &k, d->b, &h, 0, &o), QUIC_E_NONE);
	memcpy(plain, o.payload, o.payload_len);
	size_t hl = h.pn_off + o.pn_len;

	memcpy(hdr, quic_crypto_scratch(mc), hl);	/* the clear header */
	hdr[0] |= set;
	memcpy(d->b, hdr, hl);
	ck_assert(quic_aead_seal(mc, &k, o.pn, hdr, hl, plain, o.payload_len, d->b + hl));
	ck_assert(quic_hp_mask(mc, k.hp, d->b + h.pn_off + 4, mask));
	d->b[0] ^= mask[0] & 0x0f;
	for (unsigned i = 0; i < o.pn_len; i++)
		d->b[h.pn_off + i] ^= mask[1 + i];
}

START_TEST(test_malformed)
{
	uint8_t rfc[1200], b[1300];
	struct dgram d;
	struct frames fr;

	mc = crypto();
	mf = new_flow();
	unhex(V1_CLIENT_PROT, rfc, sizeof(rfc));

	/* not QUIC we know: dropped without a word */
	expect("empty", rfc, 0, QUIC_NOT_QUIC, QUIC_E_NONE, false);
	memcpy(b, rfc, 1200);
	b[0] = 0x40;
	expect("short header", b, 1200, QUIC_NOT_QUIC, QUIC_E_NONE, false);
	memcpy(b, rfc, 1200);
	memset(b + 1, 0, 4);
	expect("version negotiation", b, 1200, QUIC_NOT_QUIC, QUIC_E_NONE, false);
	memcpy(b, rfc, 1200);
	memcpy(b + 1, "\xff\x00\x00\x1d", 4);
	expect("draft-29", b, 1200, QUIC_NOT_QUIC, QUIC_E_NONE, false);
	memcpy(b, "GET / HTTP/1.1\r\n", 16);
	expect("http", b, 16, QUIC_NOT_QUIC, QUIC_E_NONE, false);

	/* header errors: the datagram is dropped, the flow not started */
	for (size_t cut = 1; cut < 5; cut++)
		expect("cut in version", rfc, cut, QUIC_INVALID, QUIC_E_SHORT, false);
	for (size_t cut = 5; cut < 14; cut++)
		expect("cut in cids", rfc, cut, QUIC_INVALID, QUIC_E_SHORT, false);
	expect("cut before token length", rfc, 15, QUIC_INVALID, QUIC_E_TOKEN_LEN, false);
	expect("cut before length", rfc, 16, QUIC_INVALID, QUIC_E_LENGTH, false);
	expect("cut in length", rfc, 17, QUIC_INVALID, QUIC_E_LENGTH, false);
	expect("cut in payload", rfc, 1199, QUIC_INVALID, QUIC_E_LENGTH, false);
	memcpy(b, rfc, 1200);
	b[0] &= (uint8_t)~0x40u;
	expect("fixed bit 0", b, 1200, QUIC_INVALID, QUIC_E_FIXED_BIT, false);
	memcpy(b, rfc, 1200);
	b[5] = 21;
	expect("dcid of 21", b, 1200, QUIC_INVALID, QUIC_E_CID_LEN, false);
	memcpy(b, rfc, 1200);
	b[14] = 21;
	expect("scid of 21", b, 1200, QUIC_INVALID, QUIC_E_CID_LEN, false);
	/* token length 0x4400 (1024)... then past the datagram */
	memcpy(b, rfc, 15);
	b[15] = 0x7f;
	b[16] = 0xff;
	memset(b + 17, 0, 1183);
	expect("token past datagram", b, 1200, QUIC_INVALID, QUIC_E_TOKEN_LEN, false);
	memcpy(b, rfc, 15);
	memcpy(b + 15, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
	memset(b + 23, 0, 1177);
	expect("token length 2^62-1", b, 1200, QUIC_INVALID, QUIC_E_TOKEN_LEN, false);
	memcpy(b, rfc, 1200);
	b[16] = 0x44;
	b[17] = 0x9f;		/* one more than the datagram holds */
	expect("length past datagram", b, 1200, QUIC_INVALID, QUIC_E_LENGTH, false);
	memcpy(b, rfc, 1200);
	b[16] = 0x40;
	b[17] = 19;		/* no room for pn + sample */
	expect("length under 20", b, 1200, QUIC_INVALID, QUIC_E_LENGTH, false);
	{
		/* the header parser alone refuses it too: packets are delimited
		 * with it before anything is opened */
		struct quic_long_header h;
		enum quic_error e;

		ck_assert_int_eq(quic_long_header_parse(b, 1200, &h, &e), QUIC_INVALID);
		ck_assert_int_eq(e, QUIC_E_LENGTH);
		b[17] = 20;
		ck_assert_int_eq(quic_long_header_parse(b, 1200, &h, &e), QUIC_DONE);
		ck_assert_uint_eq(h.end, 18 + 20);
	}
	memcpy(b, rfc, 1200);
	b[16] = 0xc0;		/* 8-byte varint: huge */
	expect("length 8-byte varint", b, 1200, QUIC_INVALID, QUIC_E_LENGTH, false);

	/* what must hold for a first Initial */
	memset(&fr, 0, sizeof(fr));
	fr_varint(&fr, 0x01);
	memset(&d, 0, sizeof(d));
	add_initial(mc, &d, QUIC_VERSION_1, DCID, sizeof(DCID), 0, &fr, false);
	expect("datagram under 1200", d.b, d.len, QUIC_INVALID, QUIC_E_DGRAM_SIZE, false);
	memset(&d, 0, sizeof(d));
	add_0rtt(mc, &d, QUIC_VERSION_1);
	expect("0-RTT first", d.b, d.len, QUIC_INVALID, QUIC_E_NOT_INITIAL, false);
	memcpy(b, rfc, 1200);
	b[600] ^= 0x80;
	expect("ciphertext flipped", b, 1200, QUIC_INVALID, QUIC_E_DECRYPT, false);
	memcpy(b, rfc, 1200);
	b[1199] ^= 1;
	expect("tag flipped", b, 1200, QUIC_INVALID, QUIC_E_DECRYPT, false);
	memcpy(b, rfc, 1200);
	b[6] ^= 1;
	expect("other dcid", b, 1200, QUIC_INVALID, QUIC_E_DECRYPT, false);
	/* the forged datagram changed nothing: the real one still works */
	quic_flow_hello_init(mf);
	ck_assert_int_eq(quic_hello_feed(mc, mf, b, 1200, NULL), QUIC_INVALID);
	ck_assert_int_eq(quic_hello_feed(mc, mf, rfc, 1200, NULL), QUIC_DONE);

	/* authenticated but broken: the flow fails */
	memset(&fr, 0, sizeof(fr));
	fr_varint(&fr, 0x01);
	memset(&d, 0, sizeof(d));
	add_initial(mc, &d, QUIC_VERSION_1, DCID, sizeof(DCID), 0, &fr, true);
	reseal_first_bits(&d, 0x08);
	expect("reserved bits", d.b, d.len, QUIC_INVALID, QUIC_E_RESERVED_BITS, true);
	{
		struct quic_keys k;
		struct quic_packet_spec s = {
			.version = QUIC_VERSION_1, .type = QUIC_PT_INITIAL,
			.dcid = DCID, .dcid_len = sizeof(DCID), .pn = 0, .pn_len = 4,
		};

		ck_assert(quic_initial_keys(mc, QUIC_VERSION_1, DCID, sizeof(DCID), false, &k));
		memset(b, 0, sizeof(b));
		ck_assert_uint_gt(quic_packet_seal(mc, &k, &s, NULL, 0, b, sizeof(b)), 0);
		expect("no frames", b, 1200, QUIC_INVALID, QUIC_E_EMPTY_PAYLOAD, true);
	}

	static const struct { const char *what; const char *bytes; size_t n; } bad_types[] = {
		{ "STREAM", "\x08\x00\x01x", 4 },
		{ "application CONNECTION_CLOSE", "\x1d\x00\x00", 3 },
		{ "HANDSHAKE_DONE", "\x1e", 1 },
		{ "NEW_TOKEN", "\x07\x01x", 3 },
		{ "two-byte CRYPTO type", "\x40\x06\x00\x01x", 5 },
		{ "unknown 0x21", "\x21", 1 },
	};
	for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
		memset(&fr, 0, sizeof(fr));
		fr_varint(&fr, 0x01);
		fr_bytes(&fr, bad_types[i].bytes, bad_types[i].n);
		expect_frames(bad_types[i].what, &fr, QUIC_E_FRAME_TYPE);
	}

	/* frames cut short: each sits at the very end of an unpadded packet in
	 * a datagram made 1200 with short-header filler */
	static const struct { const char *what; const char *bytes; size_t n; } cut[] = {
		{ "CRYPTO past payload", "\x06\x00\x44\x00xxxx", 8 },
		{ "CRYPTO without length", "\x06\x00", 2 },
		{ "CRYPTO offset varint cut", "\x06\x80\x00", 3 },
		{ "ACK cut", "\x02\x05\x00", 3 },
		{ "ACK range count past payload", "\x02\x05\x00\x10\x00\x00\x00", 7 },
		{ "ACK first range over largest", "\x02\x05\x00\x00\x06", 5 },
		{ "ACK_ECN without counts", "\x03\x05\x00\x00\x00", 5 },
		{ "CONNECTION_CLOSE reason past payload", "\x1c\x00\x00\x10xx", 6 },
	};
	for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
		memset(&fr, 0, sizeof(fr));
		fr_bytes(&fr, "\x01\x01\x01", 3);
		fr_bytes(&fr, cut[i].bytes, cut[i].n);
		memset(&d, 0, sizeof(d));
		add_initial(mc, &d, QUIC_VERSION_1, DCID, sizeof(DCID), 0, &fr, false);
		memset(d.b + d.len, 0x41, 1200 - d.len);
		expect(cut[i].what, d.b, 1200, QUIC_INVALID, QUIC_E_FRAME_ENCODING, true);
	}

	/* CRYPTO bounds */
	memset(&fr, 0, sizeof(fr));
	fr_crypto(&fr, QUIC_HELLO_CAP, (const uint8_t *)"x", 1);
	expect_frames("offset at the cap", &fr, QUIC_E_CRYPTO_CAP);
	memset(&fr, 0, sizeof(fr));
	fr_crypto(&fr, QUIC_HELLO_CAP - 1, (const uint8_t *)"xy", 2);
	expect_frames("end past the cap", &fr, QUIC_E_CRYPTO_CAP);
	memset(&fr, 0, sizeof(fr));
	fr_crypto(&fr, (UINT64_C(1) << 62) - 1, (const uint8_t *)"x", 1);
	expect_frames("end past 2^62", &fr, QUIC_E_FRAME_ENCODING);
	memset(&fr, 0, sizeof(fr));
	fr_crypto(&fr, QUIC_HELLO_CAP, (const uint8_t *)"", 0);
	ck_assert_uint_eq(fr.len, 4);
	{
		/* an empty frame at the cap is no data past it */
		memset(&d, 0, sizeof(d));
		add_initial(mc, &d, QUIC_VERSION_1, DCID, sizeof(DCID), 0, &fr, true);
		expect("empty at the cap", d.b, d.len, QUIC_NEED_MORE, QUIC_E_NONE, false);
	}

	/* the stream is not a ClientHello we take */
	memset(&fr, 0, sizeof(fr));
	fr_crypto(&fr, 0, (const uint8_t *)"\x02\x00\x00\x56", 4);
	expect_frames("ServerHello", &fr, QUIC_E_HELLO);
	ck_assert_int_eq(mf->hello.error, TLS_HELLO_E_NOT_CLIENT_HELLO);
	memset(&fr, 0, sizeof(fr));
	fr_crypto(&fr, 0, (const uint8_t *)"\x01\x00\x30\x00", 4);
	expect_frames("hello longer than the cap", &fr, QUIC_E_CRYPTO_CAP);

	free(mf);
	quic_crypto_free(mc);
}
END_TEST

/* a datagram for another DCID or version in a started flow is dropped,
 * and the flow goes on */
START_TEST(test_flow_mismatch)
{
	struct quic_crypto *c = crypto();
	uint8_t hs[4096];
	size_t n = libssl_hello(HELLO_SNI, hs, sizeof(hs));
	struct quic_flow_hello *f = new_flow();
	struct frames a = { .len = 0 }, b = { .len = 0 };
	struct dgram da = { .len = 0 }, db = { .len = 0 }, dx = { .len = 0 }, dv = { .len = 0 };
	static const uint8_t other[8] = { 9, 9, 9, 9, 9, 9, 9, 9 };

	fr_crypto(&a, 0, hs, 700);
	fr_crypto(&b, 700, hs + 700, n - 700);
	add_initial(c, &da, QUIC_VERSION_1, DCID, sizeof(DCID), 0, &a, true);
	add_initial(c, &db, QUIC_VERSION_1, DCID, sizeof(DCID), 1, &b, true);
	add_initial(c, &dx, QUIC_VERSION_1, other, sizeof(other), 1, &b, true);
	add_initial(c, &dv, QUIC_VERSION_2, DCID, sizeof(DCID), 1, &b, true);
	ck_assert_int_eq(quic_hello_feed(c, f, da.b, da.len, NULL), QUIC_NEED_MORE);
	ck_assert_int_eq(quic_hello_feed(c, f, dx.b, dx.len, NULL), QUIC_INVALID);
	ck_assert_int_eq(f->error, QUIC_E_FLOW_MISMATCH);
	ck_assert(!f->failed);
	ck_assert_int_eq(quic_hello_feed(c, f, dv.b, dv.len, NULL), QUIC_INVALID);
	ck_assert_int_eq(f->error, QUIC_E_FLOW_MISMATCH);
	ck_assert_int_eq(quic_hello_feed(c, f, db.b, db.len, NULL), QUIC_DONE);
	ck_assert_str_eq(f->hello.sni, HELLO_SNI);
	/* done stays done */
	ck_assert_int_eq(quic_hello_feed(c, f, dx.b, dx.len, NULL), QUIC_DONE);
	free(f);
	quic_crypto_free(c);
}
END_TEST

/* packet numbers expand around the next expected one (RFC 9000 A.3) */
START_TEST(test_packet_number_expansion)
{
	struct quic_crypto *c = crypto();
	struct quic_keys k;
	struct quic_long_header h;
	struct quic_opened o;
	enum quic_error e;
	uint8_t pl[40] = { 1 }, out[200];
	static const struct { uint64_t pn, next; unsigned len; } cases[] = {
		{ 0, 0, 1 }, { 255, 200, 1 }, { 256, 250, 1 }, { 0xa82f9b32, 0xa82f30ea, 2 },
		{ 0x10000, 0xfff0, 2 }, { 5, 0, 4 },
	};

	ck_assert(quic_initial_keys(c, QUIC_VERSION_1, DCID, sizeof(DCID), false, &k));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct quic_packet_spec s = {
			.version = QUIC_VERSION_1, .type = QUIC_PT_INITIAL,
			.dcid = DCID, .dcid_len = sizeof(DCID),
			.pn = cases[i].pn, .pn_len = cases[i].len,
		};
		size_t n = quic_packet_seal(c, &k, &s, pl, sizeof(pl), out, sizeof(out));

		ck_assert_int_eq(quic_long_header_parse(out, n, &h, &e), QUIC_DONE);
		ck_assert_int_eq(quic_packet_open(c, &k, out, &h, cases[i].next, &o), QUIC_E_NONE);
		ck_assert_uint_eq(o.pn, cases[i].pn);
		ck_assert_uint_eq(o.pn_len, cases[i].len);
	}
	quic_crypto_free(c);
}
END_TEST

START_TEST(test_varints)
{
	static const struct { const char *hex; uint64_t v; } cases[] = {
		{ "c2197c5eff14e88c", UINT64_C(151288809941952652) },
		{ "9d7f3e7d", 494878333 },
		{ "7bbd", 15293 },
		{ "25", 37 },
		{ "4025", 37 },	/* not minimal, still 37 */
	};
	uint8_t b[8], w[8];
	uint64_t v;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = unhex(cases[i].hex, b, sizeof(b));

		ck_assert_uint_eq(quic_varint_read(b, n, &v), n);
		ck_assert_uint_eq(v, cases[i].v);
		ck_assert_uint_eq(quic_varint_read(b, n - 1, &v), 0);
		if (i < 4) {
			ck_assert_uint_eq(quic_varint_write(w, cases[i].v), n);
			ck_assert_mem_eq(w, b, n);
		}
	}
	ck_assert_str_eq(quic_error_str(QUIC_E_CRYPTO_MISMATCH), "overlapping crypto data disagrees");
}
END_TEST

Suite *make_quic_suite(void)
{
	Suite *s = suite_create("quic");
	TCase *tc = tcase_create("vectors");

	tcase_add_loop_test(tc, test_rfc_keys, 0, 2);
	tcase_add_loop_test(tc, test_rfc_hp_mask, 0, 2);
	tcase_add_loop_test(tc, test_rfc_client_initial, 0, 2);
	tcase_add_loop_test(tc, test_rfc_server_initial, 0, 2);
	tcase_add_test(tc, test_rfc_wrong_version_keys);
	tcase_add_test(tc, test_raw_handshake_prefixes);
	tcase_add_test(tc, test_varints);
	tcase_add_test(tc, test_packet_number_expansion);
	suite_add_tcase(s, tc);

	tc = tcase_create("reassembly");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_libssl_hello_whole);
	tcase_add_loop_test(tc, test_split_every_point, 0, 2);
	tcase_add_test(tc, test_shuffled_two_datagrams);
	tcase_add_test(tc, test_overlap_disagrees);
	tcase_add_loop_test(tc, test_coalesced_initial_0rtt, 0, 2);
	tcase_add_test(tc, test_flow_mismatch);
	tcase_add_test(tc, test_chromium_two_datagrams);
	tcase_add_test(tc, test_ngtcp2_initial_0rtt);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, test_malformed);
	tcase_add_loop_test(tc, test_close_unrecognized_name, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
